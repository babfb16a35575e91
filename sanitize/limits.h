/* Every numeric cap kiln applies, in one place (curl dynbuf, jq depth).
 * A value past a cap is an error naming the cap, never a silent cut. */
#ifndef KILN_LIMITS_H
#define KILN_LIMITS_H

/* kiln.yaml */
#define KILN_MAX_SPEC_BYTES   (1u << 20)  /* whole kiln.yaml */
#define KILN_MAX_YAML_DEPTH   16          /* mapping/sequence nesting */
#define KILN_MAX_YAML_EVENTS  100000      /* events per document (alias bombs) */
#define KILN_MAX_LIST_ITEMS   1024        /* packages, files, env, run, ... */
#define KILN_MAX_SCALAR_BYTES 4096        /* one YAML scalar */
#define KILN_MAX_ERRORS       100         /* errors reported by one validate */
#define KILN_CONFIG_MAX_BYTES (64u << 10) /* /etc/kiln/config.yaml */

/* names */
#define KILN_MAX_USER_NAME    32 /* useradd's limit */
#define KILN_MAX_PROJECT_NAME 64
#define KILN_POLICY_MAX_NAME  30 /* Colosseum name policy */
#define KILN_MAX_IMAGE_REF    255
#define KILN_MAX_LABEL_KEY    128
#define KILN_MAX_ENV_NAME     128
#define KILN_MAX_VOLUME_NAME  128 /* a user's; the engine name adds "._.<uid>" */
#define KILN_MAX_PATH         4096
#define KILN_MAX_PACKAGE_NAME 214     /* npm/pip practical max, apt far less */
#define KILN_MAX_HOST_IP      46      /* INET6_ADDRSTRLEN: a -p address */
#define KILN_MAX_URL          2048    /* packages.pip_index_url and friends */
#define KILN_MAX_PIDS_LIMIT   4194304 /* the kernel's pid_max ceiling */

/* ids */
#define KILN_MAX_ID     4294967294u /* (uid_t)-1 is "no id" */
#define KILN_MAX_GROUPS 1024        /* supplementary groups of one caller */

/* templates */
#define KILN_MAX_TEMPLATE_BYTES   (256u << 10)
#define KILN_MAX_TEMPLATE_DEPTH   8 /* nested sections/partials */
#define KILN_MAX_DOCKERFILE_BYTES (1u << 20)

/* engine */
#define KILN_MAX_STREAM_LINE           (1u << 20)  /* one JSON line from the engine */
#define KILN_MAX_RESPONSE_BYTES        (64u << 20) /* a non-streamed API response */
#define KILN_CONNECT_TIMEOUT_MS        5000
#define KILN_UNDO_TIMEOUT_MS           30000      /* an undo call (untag, remove) after a failure */
#define KILN_MAX_CONTEXT_ENTRIES       1000000    /* tar entries in a build context */
#define KILN_MAX_IMAGE_CONFIG          (8u << 20) /* an image config blob in a docker save tar */
#define KILN_MAX_DOCKERIGNORE_PATTERNS 4096
#define KILN_MAX_DIGEST_CACHE_ENTRIES  65536 /* files in the per-user digest cache (80 B each) */
#define KILN_BUILD_TAIL_LINES          20    /* output lines kept for a failing step */
/* Uncached COPYed bytes a build hashes before it starts (read twice, the
 * second time from the page cache): cheaper than the metadata-only second
 * build that adds the labels when the digest is made while streaming. */
#define KILN_DIGEST_UPFRONT_BYTES (32u << 20)

/* host */
#define KILN_LOCK_WAIT_S        120  /* longest wait for another kiln's lock */
#define KILN_MAX_STOP_TIMEOUT_S 3600 /* container stop --time */
/* A build-step container exited (or created and never started) this long
 * ago is a dying engine's leftover, not a step waiting for its commit. */
#define KILN_GC_BUILD_STEP_AGE_S 600

#endif
