/* Where the built-in demo model (models/toy-shapes) is: next to the installed binary or library,
 * in the source tree this library was built from, or under the configured install prefix. */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "core/status.h"
#include "io/file.h"

/* Set by CMakeLists.txt for this file only:
 *   DM_DEMO_MODEL_RELATIVE  the model folder relative to the folder of the installed binary /
 *                           library file ("../share/diffumask/models/toy-shapes")
 *   DM_DEMO_MODEL_SOURCE    the source tree's models/toy-shapes
 *   DM_DEMO_MODEL_INSTALLED PREFIX/share/diffumask/models/toy-shapes */

/* Folder of the file (executable or libdiffumask.so) that holds this code, into dir. */
static int module_dir(char *dir, size_t cap) {
    Dl_info info;
    if (!dladdr((void *)&module_dir, &info) || !info.dli_fname || !*info.dli_fname) return 0;
    char path[PATH_MAX];
    /* an executable started through PATH may report a bare name: /proc/self/exe is the file */
    const char *file = info.dli_fname;
    if (!strchr(file, '/')) {
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
        if (n <= 0) return 0;
        path[n] = 0;
        file = path;
    }
    const char *slash = strrchr(file, '/');
    size_t len = (size_t)(slash - file);
    if (len + 1 > cap) return 0;
    memcpy(dir, file, len);
    dir[len] = 0;
    return 1;
}

dm_status dm_default_model(char *path, size_t cap, dm_error *err) {
    char dir[PATH_MAX], cand[PATH_MAX], real[PATH_MAX];
    const char *found = NULL;
    if (module_dir(dir, sizeof dir) &&
        (size_t)snprintf(cand, sizeof cand, "%s/%s", dir, DM_DEMO_MODEL_RELATIVE) < sizeof cand &&
        dm_dir_exists(cand))
        found = realpath(cand, real) ? real : cand;
    else if (dm_dir_exists(DM_DEMO_MODEL_SOURCE))
        found = DM_DEMO_MODEL_SOURCE;
    else if (dm_dir_exists(DM_DEMO_MODEL_INSTALLED))
        found = DM_DEMO_MODEL_INSTALLED;
    if (!found)
        return dm_fail(err,
                       "no built-in demo model found (looked in %s/%s, %s and %s); give a model "
                       "path",
                       module_dir(dir, sizeof dir) ? dir : "(binary folder)",
                       DM_DEMO_MODEL_RELATIVE, DM_DEMO_MODEL_SOURCE, DM_DEMO_MODEL_INSTALLED);
    if (!path || strlen(found) + 1 > cap)
        return dm_fail_code(err, DM_EUSAGE, "dm_default_model: buffer too small for %s", found);
    memcpy(path, found, strlen(found) + 1);
    return DM_OK;
}
