-- Ignores session:ready(): only the hangup can end it, at its next session call.
function on_hangup(s, status)
  freeswitch.API():execute("global_setvar", "killed_hook=" .. status)
end
session:answer()
session:setHangupHook("on_hangup")
session:setVariable("lua_sleeping", "1")
while true do
  session:sleep(100)
end
