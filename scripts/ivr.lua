-- The built-in config's demo IVR (extension 300), written as for FreeSWITCH:
-- a beep, then 1 for the echo test, 2 to hear the time; anything else, twice, ends
-- the call.
session:answer()
session:sleep(500)
local choice = session:playAndGetDigits(1, 1, 2, 4000, "#",
  "tone_stream://%(300,100,440);%(300,0,660)", "tone_stream://%(600,0,300)",
  "^[12]$", "ivr_choice", 2000)
session:consoleLog("info", "demo IVR: caller chose [" .. choice .. "]\n")
if choice == "1" then
  session:transfer("101", "XML", "default")
elseif choice == "2" then
  session:say("", "en", "current_time", "pronounced")
  session:sleep(500)
end
