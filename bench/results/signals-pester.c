#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <time.h>
int main(int argc, char **argv) {
    int pid = atoi(argv[1]);
    int usec = atoi(argv[2]);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    for (;;) {
        DIR *d = opendir(path);
        if (!d) return 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            int tid = atoi(e->d_name);
            if (tid > 0) syscall(SYS_tgkill, pid, tid, SIGPIPE);
        }
        closedir(d);
        usleep(usec);
    }
}
