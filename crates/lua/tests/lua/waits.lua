-- Many instructions in all, but it waits between them: never stopped.
local n = 0
for round = 1, 20 do
  for i = 1, 100000 do n = n + i end
  freeswitch.msleep(1)
end
stream:write("+OK " .. n .. " " .. argv[1] .. "\n")
