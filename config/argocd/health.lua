-- Argo CD health check for timebox.dev/AccessGrant.
-- A finished grant (Expired, Revoked) is Healthy: it did what it was for, and a
-- re-sync never grants again. A refused or broken one (Denied, Failed) is Degraded.
local hs = {}
local function readyMessage()
  if obj.status ~= nil and obj.status.conditions ~= nil then
    for _, c in ipairs(obj.status.conditions) do
      if c.type == "Ready" and c.message ~= nil then
        return c.message
      end
    end
  end
  return nil
end
if obj.status == nil or obj.status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Timebox controller to evaluate the request"
  return hs
end
local phase = obj.status.phase
if phase == "Pending" then
  hs.status = "Progressing"
elseif phase == "Active" or phase == "Expired" or phase == "Revoked" then
  hs.status = "Healthy"
elseif phase == "Denied" or phase == "Failed" then
  hs.status = "Degraded"
else
  hs.status = "Unknown"
end
local message = readyMessage()
if message ~= nil and message ~= "" then
  hs.message = phase .. ": " .. message
else
  hs.message = phase
end
return hs
