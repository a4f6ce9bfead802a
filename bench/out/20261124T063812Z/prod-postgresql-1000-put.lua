
local method, template, body, lo, hi = "PUT", "/api/tasks/{id}", [[{"status": "{status}"}]], 100001, 101000
local headers = {["Authorization"] = "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJmcmVzaCI6ZmFsc2UsImlhdCI6MTc5NTUwMjMwMywianRpIjoiOTkxNWJiYmQtNDc1OS00ZTdjLWI1NDgtNGNjOTdjYzNhNDM1IiwidHlwZSI6ImFjY2VzcyIsInN1YiI6IjExIiwibmJmIjoxNzk1NTAyMzAzLCJleHAiOjE3OTU1MDMyMDMsInNpZCI6IjFjZWVhNWEzMGI1MDRmMzliY2Q4ODA3MmEyNGYzMWQ3In0.8KOqT09bV5tpFcYlSodwV0CYf303cCcJihYgS20p6Gg", ["Content-Type"] = "application/json"}
local statuses = {"pending", "in_progress", "completed"}
math.randomseed(os.time() + math.floor(os.clock() * 1000000))
request = function()
  local path = string.gsub(template, "{id}", tostring(math.random(lo, hi)))
  local b = string.gsub(body, "{status}", statuses[math.random(1, 3)])
  if method == "GET" then b = nil end
  return wrk.format(method, path, headers, b)
end
