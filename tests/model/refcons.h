/*
 * vcdc - model test: the reference consumer (refcons.c), run instead of
 * vcdc's when VCDC_MODEL_REFERENCE=1: a check of the tests themselves.
 */
#ifndef VCDC_MODEL_REFCONS_H
#define VCDC_MODEL_REFCONS_H

#include <signal.h>

#include "conf.h"
#include "consumer.h"

/** Applies opts->topic one message at a time until *run is 0 or a fatal
 *  error. Returns 0, or -1 (as vcdc_consumer_run()). */
int refcons_run(const vcdc_conf_t *conf, const vcdc_consumer_opts_t *opts,
                volatile sig_atomic_t *run);

#endif
