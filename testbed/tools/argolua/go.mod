module inference-operator.dev/testbed/argolua

go 1.26.0

require (
	github.com/yuin/gopher-lua v1.1.2
	gopkg.in/yaml.v3 v3.0.1
)
