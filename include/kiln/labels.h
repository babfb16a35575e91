/* Label keys kiln writes and reads; one list so generator, builder and
 * deploy agree. Values are strings, as the engine stores them. */
#ifndef KILN_LABELS_H
#define KILN_LABELS_H

#define KILN_LABEL_USER_SETUP     "kiln.user-setup" /* "true" */
#define KILN_LABEL_UID            "kiln.uid"
#define KILN_LABEL_GID            "kiln.gid"
#define KILN_LABEL_USER           "kiln.user"
#define KILN_LABEL_HOME           "kiln.home"
#define KILN_LABEL_WORKSPACE      "kiln.workspace"
#define KILN_LABEL_PROJECT        "kiln.project"
#define KILN_LABEL_SPEC_SHA256    "kiln.spec-sha256"
#define KILN_LABEL_CONTEXT_SHA256 "kiln.context-sha256" /* everything sent to /build */
#define KILN_LABEL_SPEC_PATH      "kiln.spec-path"      /* absolute kiln.yaml, for staleness */
#define KILN_LABEL_VERSION        "kiln.version"
#define KILN_LABEL_BASE_ID        "kiln.base-image-id" /* id of the base at build time */
#define KILN_LABEL_OWNER_UID      "kiln.owner-uid"     /* containers, volumes, images */
#define KILN_LABEL_IMAGE_ID       "kiln.image-id"      /* containers: the image deployed */
#define KILN_LABEL_ADAPTED_FROM   "kiln.adapted-from"  /* legacy adaptation: base id */
#define KILN_LABEL_TEMP           "kiln.temporary"     /* temp containers of legacy deploy */
/* "true" from the line after FROM on (the same for every user, so cached
 * layers stay shared): the classic builder's step containers carry it, and
 * those an engine that died mid-build left are found by it; "" on the
 * finished image, so containers made from it never carry "true". */
#define KILN_LABEL_BUILD_STEP "kiln.build-step"

/* Other tools' user-setup labels that deploy accepts as labeled. */
#define DS01_LABEL_USER_SETUP "ds01.has_user_setup"
#define DS01_LABEL_UID        "ds01.user_id"
#define DS01_LABEL_GID        "ds01.group_id"
#define AIME_LABEL_USER_SETUP "aime.mlc.DS01_HAS_USER_SETUP"
#define AIME_LABEL_UID        "aime.mlc.DS01_USER_ID"
#define AIME_LABEL_GID        "aime.mlc.DS01_GROUP_ID"

#endif
