/*
 * vcdc - logging to stderr with levels.
 *
 * One macro that checks the level before formatting anything; stdout carries
 * data only. librdkafka's own logs are routed here (vcdc_log_rdkafka_cb).
 */
#ifndef VCDC_LOG_H
#define VCDC_LOG_H

typedef enum vcdc_log_level_e {
        VCDC_LOG_ERR = 3,
        VCDC_LOG_WARN = 4,
        VCDC_LOG_NOTICE = 5,
        VCDC_LOG_INFO = 6,
        VCDC_LOG_DEBUG = 7,
} vcdc_log_level_t;

/* The process-wide log level: set once at start-up, read everywhere. */
extern int vcdc_log_level;

/** Parses "error|warn|notice|info|debug" (or 3..7). Returns the level or -1. */
int vcdc_log_level_parse(const char *name);

void vcdc_log_write(int level, const char *component, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

struct rd_kafka_s;

/** librdkafka's log callback (rd_kafka_conf_set_log_cb): its lines go
 *  through vcdc's log, at their own syslog level. */
void vcdc_log_rdkafka_cb(const struct rd_kafka_s *rk, int level,
                         const char *fac, const char *buf);

#define vcdc_log(level, component, ...)                                        \
        do {                                                                   \
                if ((level) <= vcdc_log_level)                                 \
                        vcdc_log_write((level), (component), __VA_ARGS__);     \
        } while (0)

#define VCDC_ERR(comp, ...)    vcdc_log(VCDC_LOG_ERR, comp, __VA_ARGS__)
#define VCDC_WARN(comp, ...)   vcdc_log(VCDC_LOG_WARN, comp, __VA_ARGS__)
#define VCDC_NOTICE(comp, ...) vcdc_log(VCDC_LOG_NOTICE, comp, __VA_ARGS__)
#define VCDC_INFO(comp, ...)   vcdc_log(VCDC_LOG_INFO, comp, __VA_ARGS__)
#define VCDC_DEBUG(comp, ...)  vcdc_log(VCDC_LOG_DEBUG, comp, __VA_ARGS__)

#endif
