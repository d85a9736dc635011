/* hello: the example service that dockuni's README converts.
 * Serves the greeting read from /etc/hello.conf over HTTP on port 8080, one request at a time, in one
 * process: the shape of program every unikernel target can run. Built as a static PIE (see build.sh). */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
    char greeting[256] = "hello\n";
    FILE *conf = fopen("/etc/hello.conf", "r");
    if (conf) {
        if (!fgets(greeting, sizeof greeting, conf)) strcpy(greeting, "hello\n");
        fclose(conf);
    }
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int on = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(8080)};
    if (bind(s, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(s, 8) != 0) {
        perror("hello: bind/listen");
        return 1;
    }
    fprintf(stderr, "hello: serving on :8080\n");
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) continue;
        char req[1024], head[128];
        if (read(c, req, sizeof req) > 0) {
            int n = snprintf(head, sizeof head,
                             "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n",
                             strlen(greeting));
            if (write(c, head, (size_t)n) < 0 || write(c, greeting, strlen(greeting)) < 0) perror("hello");
        }
        close(c);
    }
}
