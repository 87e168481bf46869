"""Load -> validate -> normalise: YAML text to a frozen PipelineSpec, every problem a located diagnostic."""
