-- Fails on its fourth line.
local greeting = "hello"
stream:write(greeting .. "\n")
local nothing = nil; nothing.field = 1
