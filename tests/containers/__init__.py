# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# A package, so that pytest imports this directory's conftest as containers.conftest and the
# name `conftest` stays free for tests/e2e/conftest.py, whose helpers the suite imports.
