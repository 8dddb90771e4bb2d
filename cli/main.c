/*
 * vcdc - the operator's tool: one command per step of a migration.
 *
 *   vcdc status    lag and readiness of the consumer groups
 *   vcdc verify    does NEW hold exactly what OLD holds?
 *   vcdc shadow    the same queries on both, compared
 *   vcdc cutover   evaluate the gate, switch reads
 *   vcdc rollback  switch reads back, at once
 *   vcdc route     where reads go, and the history of switches
 *
 * Each command parses its own options (argv[0] is its name) and returns
 * its exit status. This file only dispatches: no command's options,
 * logic or output belong here.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"

typedef struct command_s {
        const char *name;
        int (*run)(int argc, char **argv);
        const char *what;
} command_t;

static const command_t commands[] = {
        {"status", vcdc_cmd_status,
         "lag and readiness of the consumer groups (OK, LAGGING, STALLED,\n"
         "                REWOUND, STOPPED)"},
        {"verify", vcdc_cmd_verify,
         "compare OLD and NEW record by record (full or sampled)"},
        {"shadow", vcdc_cmd_shadow,
         "run the same k-NN queries on OLD and NEW, compare the answers"},
        {"cutover", vcdc_cmd_cutover,
         "evaluate the cut-over gate and switch a collection's reads"},
        {"rollback", vcdc_cmd_rollback,
         "switch a collection's reads back at once, without a gate"},
        {"route", vcdc_cmd_route,
         "show where a collection's reads go, and every switch"},
        {"snapshot", vcdc_cmd_snapshot,
         "copy a live OLD into the topic, exactly, while writes go on"},
};

#define COMMAND_CNT (sizeof(commands) / sizeof(*commands))

static void usage(FILE *fp) {
        size_t i;

        fprintf(fp, "Usage: vcdc COMMAND [options]\n"
                    "Operates a migration between vector databases through "
                    "Kafka.\n\nCommands:\n");
        for (i = 0; i < COMMAND_CNT; i++)
                fprintf(fp, "  %-12s  %s\n", commands[i].name,
                        commands[i].what);
        fprintf(fp, "\n`vcdc COMMAND --help` describes a command's options. "
                    "The brokers come from\n-b or $VCDC_BROKERS. Reports go "
                    "to stdout, logs to stderr.\n"
                    "Exit status: 0 success, 1 the check said no, 2 error, "
                    "64 bad usage.\n");
}

static const command_t *find(const char *name) {
        size_t i;

        for (i = 0; i < COMMAND_CNT; i++)
                if (!strcmp(commands[i].name, name))
                        return &commands[i];
        return NULL;
}

int main(int argc, char **argv) {
        const command_t *cmd;
        char *help_argv[3];

        if (argc < 2) {
                usage(stderr);
                return 64;
        }
        if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
                usage(stdout);
                return 0;
        }
        if (!strcmp(argv[1], "help")) {
                if (argc < 3) {
                        usage(stdout);
                        return 0;
                }
                if (!(cmd = find(argv[2]))) {
                        fprintf(stderr, "vcdc: unknown command \"%s\"\n\n",
                                argv[2]);
                        usage(stderr);
                        return 64;
                }
                help_argv[0] = argv[2];
                help_argv[1] = "--help";
                help_argv[2] = NULL;
                return cmd->run(2, help_argv);
        }
        if (!(cmd = find(argv[1]))) {
                fprintf(stderr, "vcdc: unknown command \"%s\"\n\n", argv[1]);
                usage(stderr);
                return 64;
        }
        return cmd->run(argc - 1, argv + 1);
}
