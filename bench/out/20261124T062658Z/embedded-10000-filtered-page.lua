
local method, template, body, lo, hi = "GET", "/api/tasks?status=pending&priority=high", [[]], 100001, 110013
local headers = {["Authorization"] = "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJmcmVzaCI6ZmFsc2UsImlhdCI6MTc5NTUwMjAzOSwianRpIjoiYjEzODJlYTUtNjRhMS00NWIzLWJkZTMtMmY1ZjE3ZDUyZWI5IiwidHlwZSI6ImFjY2VzcyIsInN1YiI6IjExIiwibmJmIjoxNzk1NTAyMDM5LCJleHAiOjE3OTU1MDI5MzksInNpZCI6ImQ1Y2U1NWQ0YjY1YzQyOWU5ZmFiMjYwYTg2OTI5OGUzIn0.S1eNYig8LfaVPAcTItaQpqf3hbUhQvrm3_7HdKiQOws", ["Content-Type"] = "application/json"}
local statuses = {"pending", "in_progress", "completed"}
math.randomseed(os.time() + math.floor(os.clock() * 1000000))
request = function()
  local path = string.gsub(template, "{id}", tostring(math.random(lo, hi)))
  local b = string.gsub(body, "{status}", statuses[math.random(1, 3)])
  if method == "GET" then b = nil end
  return wrk.format(method, path, headers, b)
end
