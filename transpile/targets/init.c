/* dockuni microVM init: PID 1 of a one-app Linux microVM.
 *
 * Reads /.dockuni/init.conf (NUL-separated key, value pairs written by dockuni), then in order:
 * mounts what the app was seen to need, loads kernel modules (stock kernels only), brings up lo and
 * the first Ethernet NIC with a static address, and forks the app with its env, workdir and uid/gid.
 * PID 1 stays a minimal reaper: it forwards SIGTERM/SIGINT/SIGQUIT/SIGHUP to the app, reaps every
 * child, and when the app exits prints its status and reboots (QEMU -no-reboot then exits).
 * Built statically with musl-gcc (or gcc -static); no libc features beyond POSIX + Linux ioctls.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <net/route.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ITEMS 1024

static const char *keys[MAX_ITEMS], *vals[MAX_ITEMS];
static int nitems;
static volatile pid_t app_pid;

static double uptime(void) {
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void say(const char *fmt, const char *a, const char *b) {
    fprintf(stderr, "dockuni-init[%.3f]: ", uptime());
    fprintf(stderr, fmt, a ? a : "", b ? b : "");
    fputc('\n', stderr);
}

static void finish(int code) {
    char buf[32];
    snprintf(buf, sizeof buf, "%d", code);
    say("app exited: %s", buf, NULL);
    sync();
    reboot(RB_AUTOBOOT);
    for (;;) pause();
}

static void load_config(void) {
    int fd = open("/.dockuni/init.conf", O_RDONLY);
    if (fd < 0) { say("no /.dockuni/init.conf: %s", strerror(errno), NULL); finish(127); }
    struct stat st;
    fstat(fd, &st);
    char *buf = malloc(st.st_size + 1);
    ssize_t got = 0;
    while (got < st.st_size) {
        ssize_t n = read(fd, buf + got, st.st_size - got);
        if (n <= 0) break;
        got += n;
    }
    close(fd);
    buf[got] = 0;
    char *p = buf, *end = buf + got;
    while (p < end && nitems < MAX_ITEMS) {
        keys[nitems] = p; p += strlen(p) + 1;
        if (p > end) break;
        vals[nitems++] = p; p += strlen(p) + 1;
    }
}

static void console(void) {
    int fd = open("/dev/console", O_RDWR | O_NOCTTY);
    if (fd < 0) return;
    dup2(fd, 0); dup2(fd, 1); dup2(fd, 2);
    if (fd > 2) close(fd);
}

static void do_mount(const char *spec) {
    /* "TYPE TARGET" */
    char type[64], target[256];
    if (sscanf(spec, "%63s %255s", type, target) != 2) return;
    mkdir(target, 0755);
    const char *opts = strcmp(type, "tmpfs") == 0 ? "mode=1777" : NULL;
    if (mount(type, target, type, MS_NOSUID, opts) != 0 && errno != EBUSY)
        say("mount %s failed: %s", spec, strerror(errno));
}

static void load_module(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { say("module %s: %s", path, strerror(errno)); return; }
    if (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)
        say("module %s: %s", path, strerror(errno));
    close(fd);
}

static void load_modules(void) {
    /* present only when a stock kernel's modules archive was appended to the initramfs */
    FILE *f = fopen("/.dockuni/modules.list", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (line[0]) load_module(line);
    }
    fclose(f);
}

static int set_addr(int s, const char *ifname, unsigned long req, const char *addr) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
    sin->sin_family = AF_INET;
    inet_pton(AF_INET, addr, &sin->sin_addr);
    return ioctl(s, req, &ifr);
}

static int link_up(int s, const char *ifname) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) return -1;
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    return ioctl(s, SIOCSIFFLAGS, &ifr);
}

static int is_ethernet(int s, const char *ifname) {
    /* skip lo and tunnels (sit0, ...): only an Ethernet NIC reaches the VMM's network */
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    return ioctl(s, SIOCGIFHWADDR, &ifr) == 0 && ifr.ifr_hwaddr.sa_family == ARPHRD_ETHER;
}

static void net_up(const char *spec) {
    /* "ADDR NETMASK GATEWAY": the first Ethernet interface gets it */
    char addr[32], mask[32], gw[32];
    if (sscanf(spec, "%31s %31s %31s", addr, mask, gw) != 3) return;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) { say("net: no AF_INET socket: %s", strerror(errno), NULL); return; }
    link_up(s, "lo");
    char ifname[IFNAMSIZ] = "";
    for (int tries = 0; tries < 50 && !ifname[0]; tries++) {  /* a NIC may probe asynchronously */
        struct if_nameindex *ifs = if_nameindex();
        for (struct if_nameindex *i = ifs; i && i->if_index; i++)
            if (is_ethernet(s, i->if_name)) { strncpy(ifname, i->if_name, IFNAMSIZ - 1); break; }
        if (ifs) if_freenameindex(ifs);
        if (!ifname[0]) usleep(100000);
    }
    if (!ifname[0]) { say("net: no network interface", NULL, NULL); close(s); return; }
    if (set_addr(s, ifname, SIOCSIFADDR, addr) || set_addr(s, ifname, SIOCSIFNETMASK, mask) || link_up(s, ifname))
        say("net: %s: %s", ifname, strerror(errno));
    struct rtentry rt;
    memset(&rt, 0, sizeof rt);
    struct sockaddr_in *dst = (struct sockaddr_in *)&rt.rt_dst, *gwa = (struct sockaddr_in *)&rt.rt_gateway,
                       *msk = (struct sockaddr_in *)&rt.rt_genmask;
    dst->sin_family = gwa->sin_family = msk->sin_family = AF_INET;
    inet_pton(AF_INET, gw, &gwa->sin_addr);
    rt.rt_flags = RTF_UP | RTF_GATEWAY;
    if (ioctl(s, SIOCADDRT, &rt) != 0 && errno != EEXIST) say("net: default route: %s", strerror(errno), NULL);
    close(s);
    say("net: %s up %s", ifname, addr);
}

static void forward(int sig) {
    if (app_pid > 0) kill(app_pid, sig);
}

int main(void) {
    console();
    say("start", NULL, NULL);
    load_config();
    load_modules();
    const char *path = NULL, *workdir = "/";
    char *argv[MAX_ITEMS + 1], *envp[MAX_ITEMS + 1];
    int argc = 0, envc = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    for (int i = 0; i < nitems; i++) {
        const char *k = keys[i], *v = vals[i];
        if (!strcmp(k, "mount")) do_mount(v);
        else if (!strcmp(k, "module")) load_module(v);
        else if (!strcmp(k, "net")) net_up(v);
        else if (!strcmp(k, "path")) path = v;
        else if (!strcmp(k, "arg")) argv[argc++] = (char *)v;
        else if (!strcmp(k, "env")) envp[envc++] = (char *)v;
        else if (!strcmp(k, "workdir")) workdir = v;
        else if (!strcmp(k, "uid")) uid = (uid_t)strtoul(v, NULL, 10);
        else if (!strcmp(k, "gid")) gid = (gid_t)strtoul(v, NULL, 10);
        if (!strcmp(k, "mount") && !strcmp(v, "devtmpfs /dev")) console();  /* the real console now */
    }
    argv[argc] = NULL;
    envp[envc] = NULL;
    if (!path || !argc) { say("no program to run", NULL, NULL); finish(127); }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGQUIT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    say("exec %s (workdir %s)", path, workdir);
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGTERM, SIG_DFL); signal(SIGINT, SIG_DFL); signal(SIGQUIT, SIG_DFL); signal(SIGHUP, SIG_DFL);
        setsid();
        if (chdir(workdir) != 0) say("chdir %s: %s", workdir, strerror(errno));
        if (gid && (setgroups(0, NULL) != 0 || setgid(gid) != 0)) say("setgid: %s", strerror(errno), NULL);
        if (uid && setuid(uid) != 0) say("setuid: %s", strerror(errno), NULL);
        execve(path, argv, envp);
        say("exec %s: %s", path, strerror(errno));
        _exit(127);
    }
    app_pid = pid;
    for (;;) {
        int status;
        pid_t done = wait(&status);
        if (done < 0 && errno == EINTR) continue;
        if (done < 0) finish(126);
        if (done == pid) finish(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    }
}
