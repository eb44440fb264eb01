/* tiller.c: the command-line entry point; dispatches to one file per command group. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    puts("tiller");
    return 0;
}
