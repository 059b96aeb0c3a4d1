/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "init.h"

int main(int argc, char *argv[]) {
        return init_main(argc, argv);
}
