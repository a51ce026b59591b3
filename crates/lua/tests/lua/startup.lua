-- Run at start ([lua] startup_scripts) with its arguments.
freeswitch.API():execute("global_setvar", "startup_ran=" .. table.concat(argv, ",", 1))
