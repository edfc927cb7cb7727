# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# bash completion for cowtrace(8). The template of build/cowtrace.bash: scripts/manpage.py fills
# in the options (and which of them take an argument) and the subcommands from cowtrace --help,
# and the detectors' names from user/trace/detector.c, when the tool is built. It needs none of the
# bash-completion package's helpers.

_cowtrace_reply()
{
	mapfile -t COMPREPLY < <(compgen "$@")
}

_cowtrace()
{
	local cur prev word i cmd=0 subcommands="@SUBCOMMANDS@"

	cur=${COMP_WORDS[COMP_CWORD]}
	prev=
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	# --opt=value: bash splits it at '=' (COMP_WORDBREAKS)
	if [[ $cur == = ]]; then
		cur=
	elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then
		prev=${COMP_WORDS[COMP_CWORD - 2]}
	fi
	COMPREPLY=()

	# the last pattern lists every option with an argument: those above it come first
	# shellcheck disable=SC2221,SC2222
	case $prev in
	-p | --pid)
		# a comma-separated list: complete the pid after the last comma
		local head='' pids=(/proc/[0-9]*)
		[[ $cur == *,* ]] && head=${cur%,*},
		_cowtrace_reply -P "$head" -W "${pids[*]#/proc/}" -- "${cur##*,}"
		return 0
		;;
	--json | --svg | --folded | --speedscope | --prometheus | --btf)
		compopt -o filenames 2>/dev/null
		_cowtrace_reply -f -- "$cur"
		return 0
		;;
	--detector)
		_cowtrace_reply -W "@DETECTORS@" -- "$cur"
		return 0
		;;
	--by)
		_cowtrace_reply -W "cause type field region stack" -- "$cur"
		return 0
		;;
	--unit)
		_cowtrace_reply -W "pages bytes" -- "$cur"
		return 0
		;;
	@WITH_ARGUMENT@)
		# a number or an expression: nothing to offer
		return 0
		;;
	esac

	# a subcommand (cowtrace diff A.json B.json): its operands are files
	if ((COMP_CWORD > 1)) && [[ " $subcommands " == *" ${COMP_WORDS[1]} "* ]]; then
		if [[ $cur == -* ]]; then
			_cowtrace_reply -W "@OPTIONS@" -- "$cur"
		else
			compopt -o filenames 2>/dev/null
			_cowtrace_reply -f -- "$cur"
		fi
		return 0
	fi

	# COMMAND starts after "--", or at the first word that is neither an option nor its
	# argument; then complete as bash would for that command line
	for ((i = 1; i < COMP_CWORD; i++)); do
		word=${COMP_WORDS[i]}
		case $word in
		--)
			cmd=$((i + 1))
			break
			;;
		@WITH_ARGUMENT@)
			((i++))
			[[ ${COMP_WORDS[i]} == = ]] && ((i++))
			;;
		-*) ;;
		*)
			cmd=$i
			break
			;;
		esac
	done
	if ((cmd && cmd < COMP_CWORD)); then
		compopt -o filenames 2>/dev/null
		_cowtrace_reply -f -- "$cur"
	elif ((cmd)) || [[ $cur != -* ]]; then
		_cowtrace_reply -c -- "$cur"
		if ((COMP_CWORD == 1)) && [[ -n $subcommands ]]; then
			mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -W "$subcommands" -- "$cur")
		fi
	else
		_cowtrace_reply -W "@OPTIONS@" -- "$cur"
	fi
	return 0
}

complete -F _cowtrace cowtrace
