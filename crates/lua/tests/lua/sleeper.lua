-- One of many concurrent scripts: answers, says it is asleep, sleeps.
session:answer()
session:setVariable("lua_sleeping", "1")
session:sleep(tonumber(argv[2]) or 20000)
