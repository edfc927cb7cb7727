# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# shellcheck shell=bash
#
# Sourced by the test scripts that fetch from Debian: tests/kernels/kernel.sh and
# tests/containers/sidroot.sh. No archive is named in this tree: it is read from the machine.
#
# archive_uri: the Debian archive the machine installs from, one URI a line, best first:
# $COWTRACE_ARCHIVE when set (a mirror of your choice), then the first URI of each apt source
# whose suites include a release itself (not only -security or -updates), deb822 sources
# first, then sources.list. Callers take the first line.
archive_uri() {
	local f
	if [ -n "${COWTRACE_ARCHIVE:-}" ]; then
		echo "$COWTRACE_ARCHIVE"
	fi
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		# deb822: stanzas separated by blank lines
		awk 'BEGIN { RS = ""; FS = "\n" }
		{
			uri = ""; main = 0
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); uri = a[2] }
				if ($i ~ /^Suites:/) {
					n = split($i, s, /[ \t]+/)
					for (j = 2; j <= n; j++) if (s[j] !~ /-/) main = 1
				}
			}
			if (uri != "" && main) { print uri; exit }
		}' "$f"
	done
	if [ -r /etc/apt/sources.list ]; then
		# deb [options] URI SUITE COMPONENTS...
		sed -e 's/\[[^]]*\]//' /etc/apt/sources.list |
			awk '$1 == "deb" && $3 !~ /-/ { print $2 }'
	fi
}
