# Sourced by the job scripts.  run_forwarding_signals CMD... starts CMD (srun
# or mpirun, which pass SIGUSR1 on to every rank) and turns SIGUSR1, SIGTERM
# and SIGINT received by this shell into one SIGUSR1 to CMD: prism's
# restartable workloads then finish their step, write results and a
# checkpoint, and exit 0.  Slurm's --signal=B:USR1@T warning and Ctrl-C on a
# workstation both arrive here.  Returns CMD's exit status.
run_forwarding_signals() {
  # A session of its own: Ctrl-C in the terminal reaches this shell only, not
  # the launcher (mpirun would answer it by killing the ranks).
  setsid "$@" &
  local step=$! rc
  trap 'echo "forwarding the stop request (SIGUSR1) to the ranks" >&2; kill -USR1 '"$step"' 2>/dev/null' USR1 TERM INT
  while true; do
    wait "$step" && rc=0 || rc=$?
    # Above 128 with the step alive: a trapped signal interrupted wait.
    if ((rc > 128)); then
      if kill -0 "$step" 2>/dev/null; then continue; fi
      wait "$step" && rc=0 || rc=$?  # it ended meanwhile: its own status
    fi
    break
  done
  trap - USR1 TERM INT
  return "$rc"
}
