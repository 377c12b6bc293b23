-- Argo CD health of an InferenceDeployment (inference-operator.dev), from the status the operator writes.
-- Installed as resource.customizations.health.inference-operator.dev_InferenceDeployment in argocd-cm.
local hs = {}
if obj.status == nil or obj.status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report a status"
  return hs
end
-- A status written for an older spec says nothing about the current one.
local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
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
-- Stalled (only a spec change can help) wins; Reconciling, or Progressing while phase is Ready (the old pods
-- still serve during a rollout), is Progressing: a sync waits for the rollout instead of passing at once.
local stalled = trueCondition("Stalled")
local rolling = trueCondition("Reconciling") or trueCondition("Progressing")
if stalled ~= nil then
  hs.status = "Degraded"
  if stalled.message ~= nil and stalled.message ~= "" then
    hs.message = stalled.message
  end
elseif phase == "Degraded" or phase == "Failed" then
  hs.status = "Degraded"
elseif phase == "Ready" and rolling ~= nil then
  hs.status = "Progressing"
  if rolling.message ~= nil and rolling.message ~= "" then
    hs.message = rolling.message
  end
elseif phase == "Ready" then
  hs.status = "Healthy"
elseif phase == "Deploying" or phase == "Pending" then
  hs.status = "Progressing"
elseif phase == "Suspended" then
  hs.status = "Suspended"
else
  hs.status = "Unknown"
  hs.message = "Unknown phase " .. tostring(phase) .. ": " .. message
end
return hs
