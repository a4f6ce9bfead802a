
local method, template, body, lo, hi = "GET", "/api/tasks?page=1000&per_page=10", [[]], 100001, 110008
local headers = {["Authorization"] = "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJmcmVzaCI6ZmFsc2UsImlhdCI6MTc5NTUwMTYyNCwianRpIjoiNGUzNDJkZTEtNTUyYi00OTY3LWJiMGItODNmYTQ2MmE3MTM5IiwidHlwZSI6ImFjY2VzcyIsInN1YiI6IjExIiwibmJmIjoxNzk1NTAxNjI0LCJleHAiOjE3OTU1MDI1MjQsInNpZCI6ImNkMDE2MWIzOThmMzQ2MmQ5ODc2NGM4NjY2OWE2NDdmIn0.cFwclPm6BnDBzxeaWdhMT-02hssa2vlq3RqWVnJ50po", ["Content-Type"] = "application/json"}
local statuses = {"pending", "in_progress", "completed"}
math.randomseed(os.time() + math.floor(os.clock() * 1000000))
request = function()
  local path = string.gsub(template, "{id}", tostring(math.random(lo, hi)))
  local b = string.gsub(body, "{status}", statuses[math.random(1, 3)])
  if method == "GET" then b = nil end
  return wrk.format(method, path, headers, b)
end
