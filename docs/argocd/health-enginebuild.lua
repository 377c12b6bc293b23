-- Argo CD health of an EngineBuild (inference-operator.dev), a TensorRT-LLM engine compile, from its status.
-- Installed as resource.customizations.health.inference-operator.dev_EngineBuild in argocd-cm.
local hs = {}
if obj.status == nil or obj.status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to start the build"
  return hs
end
-- The condition of this type with status "True", if any.
local function trueCondition(conditionType)
  for _, condition in ipairs(obj.status.conditions or {}) do
    if condition.type == conditionType and condition.status == "True" then
      return condition
    end
  end
  return nil
end
local phase = obj.status.phase
local message = obj.status.message
if message == nil or message == "" then
  message = "Phase " .. phase
end
hs.message = message
-- Stalled (a failed build only a new spec retries) is Degraded whatever the phase says.
local stalled = trueCondition("Stalled")
if stalled ~= nil then
  hs.status = "Degraded"
  if stalled.message ~= nil and stalled.message ~= "" then
    hs.message = stalled.message
  end
elseif phase == "Succeeded" then
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
