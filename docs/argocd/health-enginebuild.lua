-- Argo CD health of an EngineBuild (inference-operator.dev), a TensorRT-LLM engine compile, from its status.
-- Installed as resource.customizations.health.inference-operator.dev_EngineBuild in argocd-cm.
local hs = {}
if obj.status == nil or obj.status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to start the build"
  return hs
end
local phase = obj.status.phase
local message = obj.status.message
if message == nil or message == "" then
  message = "Phase " .. phase
end
hs.message = message
if phase == "Succeeded" then
  hs.status = "Healthy"
elseif phase == "Pending" or phase == "Building" then
  hs.status = "Progressing"
elseif phase == "Failed" then
  hs.status = "Degraded"
else
  hs.status = "Unknown"
  hs.message = "Unknown phase " .. tostring(phase) .. ": " .. message
end
return hs
