session:answer()
local spoke = session:speak("hello world")
freeswitch.API():execute("global_setvar", "spoke=" .. spoke)
