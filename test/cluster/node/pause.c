/*
 * The pod sandbox's first process for the e2e node: holds the pod's namespaces open, reaps orphaned children
 * (it is PID 1 when the pod shares its process namespace) and exits on SIGINT/SIGTERM. Built here (static, by
 * scripts/images/build.sh) because no registry is reachable for the upstream pause image; it does what
 * https://github.com/kubernetes/kubernetes/blob/v1.34.4/build/pause/linux/pause.c describes, nothing more.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig) {
  (void)sig;
  _exit(0);
}

static void on_child(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    puts("pause (qdrant-upgrade-guard e2e node)");
    return 0;
  }
  struct sigaction stop = {.sa_handler = on_stop};
  struct sigaction child = {.sa_handler = on_child, .sa_flags = SA_NOCLDSTOP};
  if (sigaction(SIGINT, &stop, NULL) < 0 || sigaction(SIGTERM, &stop, NULL) < 0 ||
      sigaction(SIGCHLD, &child, NULL) < 0) {
    perror("pause: sigaction");
    return 1;
  }
  for (;;) pause();
}
