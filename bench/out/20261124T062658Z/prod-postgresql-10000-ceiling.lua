
local method, template, body, lo, hi = "GET", "/ping", [[]], 100001, 110007
local headers = {["Authorization"] = "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJmcmVzaCI6ZmFsc2UsImlhdCI6MTc5NTUwMTgzMiwianRpIjoiMjEyN2Y3ODQtNWUyOC00NmIzLTlkNjgtMjdkNTU4N2U3ZTQ4IiwidHlwZSI6ImFjY2VzcyIsInN1YiI6IjExIiwibmJmIjoxNzk1NTAxODMyLCJleHAiOjE3OTU1MDI3MzIsInNpZCI6IjZiNmRiMzIzMjkyYjQ1NTM4Y2VkYzA4M2Q5ZDEwNjY5In0.0D1pTPmuJlsF9jfBWvI8BSQLQTEeglzTT08Jbdh1Ky0", ["Content-Type"] = "application/json"}
local statuses = {"pending", "in_progress", "completed"}
math.randomseed(os.time() + math.floor(os.clock() * 1000000))
request = function()
  local path = string.gsub(template, "{id}", tostring(math.random(lo, hi)))
  local b = string.gsub(body, "{status}", statuses[math.random(1, 3)])
  if method == "GET" then b = nil end
  return wrk.format(method, path, headers, b)
end
