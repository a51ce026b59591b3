-- The project's own Lua test suite: every `session` method of the seed (and the
-- `freeswitch.*` helpers beside them) once at least, on a Local call whose other half
-- the Rust test drives: setting `send_dtmf` makes it press those digits, setting
-- `play_to_me` makes it play a 3-second 1 kHz tone to this channel.
-- The outcome goes to the global variable `lua_suite`: "ok", or what failed.

local api = freeswitch.API()
local checked = {}

local function check(name, ok, detail)
  if not ok then
    error(name .. " failed" .. (detail ~= nil and (": " .. tostring(detail)) or ""), 2)
  end
  checked[#checked + 1] = name
end

local function press(digits)
  session:setVariable("send_dtmf", digits)
end

local function main()
  local uuid = session:get_uuid()
  check("get_uuid", type(uuid) == "string" and #uuid > 0, uuid)
  check("ready", session:ready() == true)
  check("answered before answer", session:answered() == false)
  check("getState", session:getState() == "CS_EXECUTE", session:getState())
  check("preAnswer", session:preAnswer() == 1)
  check("answer", session:answer() == 1)
  check("answered", session:answered() == true)
  check("mediaReady", session:mediaReady() == true)
  check("bridged", session:bridged() == false)
  check("hangupCause while up", session:hangupCause() == "NONE", session:hangupCause())

  -- Variables, the standard ones included.
  session:setVariable("suite_var", "hello")
  check("getVariable", session:getVariable("suite_var") == "hello")
  check("uuid variable", session:getVariable("uuid") == uuid)
  check("destination_number", session:getVariable("destination_number") == "s")
  check("context", session:getVariable("context") == "t")
  check("chan_name", session:getVariable("chan_name"):match("^Local/s@t") ~= nil)
  check("unset variable is nil", session:getVariable("no_such_var") == nil)
  check("API uuid_getvar", api:execute("uuid_getvar", uuid .. " suite_var") == "hello")
  session:consoleLog("info", "suite: variables done\n")
  freeswitch.consoleLog("notice", "suite: freeswitch.consoleLog\n")

  -- Digits without a callback.
  press("12#")
  local digits = session:getDigits(5, "#", 3000)
  check("getDigits", digits == "12", digits)
  check("read_terminator_used", session:getVariable("read_terminator_used") == "#")
  press("99")
  freeswitch.msleep(1000)
  check("flushDigits", session:flushDigits() == 1)
  check("flushed", session:getDigits(1, "", 300) == "")
  press("7#")
  digits = session:read(1, 3, "tone1k", 3000, "#")
  check("read", digits == "7", digits)
  check("read_result", session:getVariable("read_result") == "success")
  -- A wrong digit, the invalid prompt, then a right one.
  press("53")
  digits = session:playAndGetDigits(1, 1, 3, 2000, "", "tone1k", "tone1k", "[13]", "pagd", 500)
  check("playAndGetDigits", digits == "3", digits)
  check("playAndGetDigits variable", session:getVariable("pagd") == "3")
  check("playAndGetDigits invalid variable", session:getVariable("pagd_invalid") == "5")

  -- The input callback: a digit breaks a long file, ends a sleep, feeds collectDigits.
  heard = {}
  cb_arg = "the-arg"
  function on_input(s, kind, obj, arg)
    heard[#heard + 1] = obj.digit
    check("callback session", s:get_uuid() == uuid)
    check("callback kind", kind == "dtmf", kind)
    check("callback arg", arg == "the-arg", arg)
    if obj.digit == "4" then return "true" end
    return "break"
  end
  session:setInputCallback("on_input", "cb_arg")
  local started = os.time()
  press("#")
  session:streamFile("two-part")
  check("streamFile broken by #", os.time() - started < 6 and heard[1] == "#", heard[1])
  started = os.time()
  press("1")
  check("sleep", session:sleep(5000) == 0)
  check("sleep broken by a digit", os.time() - started < 4 and heard[2] == "1")
  press("42")
  check("collectDigits", session:collectDigits(5000) == 1)
  check("collectDigits fed the callback", heard[3] == "4" and heard[4] == "2", table.concat(heard))
  session:unsetInputCallback()

  -- Saying things.
  session:say("12", "en", "number", "pronounced")
  session:sayPhrase("tone1k")
  local spoke, why = pcall(session.speak, session, "hello")
  check("speak without a tts command fails clearly", not spoke and tostring(why):match("tts_command") ~= nil, why)
  session:set_tts_params("flite", "kal")

  -- Recording until silence, then splicing a file into it.
  local file = argv[1] .. "/suite-recording.wav"
  session:setVariable("play_to_me", "tone1k")
  local by_silence = session:recordFile(file, 20, 200, 1)
  check("recordFile", by_silence == 1, by_silence)
  local f = io.open(file, "rb")
  check("recording written", f ~= nil)
  local size = f:seek("end")
  f:close()
  check("recording has the tone", size > 16000, size)
  session:insertFile(file, argv[1] .. "/insert.wav", 8000)
  f = io.open(file, "rb")
  local grown = f:seek("end")
  f:close()
  check("insertFile", grown == size + 8000 * 2, grown - size)

  -- Applications.
  session:execute("set", "exec_var=1")
  check("execute", session:getVariable("exec_var") == "1")
  session:executeString("set exec_var=2")
  check("executeString", session:getVariable("exec_var") == "2")

  -- Events: made, serialised, fired, consumed; one sent about the session.
  local consumer = freeswitch.EventConsumer("CUSTOM", "suite::event")
  local event = freeswitch.Event("custom", "suite::event")
  event:addHeader("Suite-Header", "a value")
  event:addBody("the body")
  check("getHeader", event:getHeader("Suite-Header") == "a value")
  check("serialize json", event:serialize("json"):match('"Suite%-Header":"a value"') ~= nil)
  check("serialize xml", event:serialize("xml"):match("<Suite%-Header>a%%20value</Suite%-Header>") ~= nil)
  check("serialize plain", event:serialize():match("Suite%-Header: a%%20value") ~= nil)
  event:fire()
  local got = consumer:pop(1, 2000)
  check("EventConsumer pop", got ~= nil and got:getHeader("Suite-Header") == "a value")
  check("event body", got:getBody() == "the body")
  local about = freeswitch.Event("custom", "suite::event")
  session:sendEvent(about)
  got = consumer:pop(1, 2000)
  check("sendEvent", got ~= nil and got:getHeader("Unique-ID") == uuid)
  check("flushEvents", session:flushEvents() == 1)
  check("pop without blocking", consumer:pop() == nil)

  -- bgapi's reply comes back as a BACKGROUND_JOB event.
  local jobs = freeswitch.EventConsumer("BACKGROUND_JOB")
  local queued = api:executeString("bgapi uuid_getvar " .. uuid .. " suite_var")
  local job = queued:match("^%+OK Job%-UUID: (%S+)")
  check("bgapi", job ~= nil, queued)
  local done = jobs:pop(1, 2000)
  check("BACKGROUND_JOB", done ~= nil and done:getHeader("Job-UUID") == job)
  check("BACKGROUND_JOB body", done:getBody() == "hello", done:getBody())

  -- Globals.
  api:executeString("global_setvar suite_global=g1")
  check("getGlobalVariable", freeswitch.getGlobalVariable("suite_global") == "g1")

  -- Outbound sessions: answered, bridged until it hangs up, one that fails.
  local other = freeswitch.Session("loopback/answer/t")
  check("freeswitch.Session", other:ready() == true)
  other:waitForAnswer(session)
  check("waitForAnswer", other:answered() == true)
  freeswitch.bridge(session, other)
  check("bridge ended with the other side", other:ready() == false)
  local failed = freeswitch.Session("loopback/nowhere/t")
  check("failed session", failed:ready() == false)
  check("failed session cause", failed:hangupCause() ~= "NONE", failed:hangupCause())
  local late = freeswitch.Session()
  check("originate", late:originate(session, "loopback/answer/t") == 1)
  late:hangup("USER_BUSY")
  check("hangup with a cause", late:hangupCause() == "USER_BUSY", late:hangupCause())
  late:destroy()

  -- The hangup hook runs at the next session call after the hangup.
  hook_ran = nil
  function on_hangup(s, status, arg)
    hook_ran = status .. ":" .. tostring(arg)
  end
  hook_arg = "hook-arg"
  session:setHangupHook("on_hangup", "hook_arg")
  session:setAutoHangup(false)
  session:waitForAnswer(session)
  session:transfer("after", "XML", "t")
  session:check_hangup_hook()
  check("ready after transfer", session:ready() == false)
  check("hangup hook on transfer", hook_ran == "transfer:hook-arg", hook_ran)
  session:hangupState()
end

local ok, err = pcall(main)
local result = ok and "ok" or tostring(err)
api:executeString("global_setvar lua_suite=" .. result:gsub("%s+", " "))
api:executeString("global_setvar lua_suite_checks=" .. #checked)
