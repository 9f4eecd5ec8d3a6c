/* SHA-256 against the FIPS 180-4 examples. */
#include <string.h>

#include "check.h"
#include "core/sha256.h"

static void hash(const char *msg, size_t reps, const char *want) {
    dm_sha256 s;
    char out[65];
    dm_sha256_init(&s);
    for (size_t i = 0; i < reps; i++) dm_sha256_update(&s, msg, strlen(msg));
    dm_sha256_hex(&s, out);
    CHECKF(!strcmp(out, want), "sha256 got %s want %s", out, want);
}

int main(void) {
    hash("", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    hash("abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    hash("a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    return check_finish();
}
