using SlmStudio.Core.Training;
using static TorchSharp.torch;

namespace SlmStudio.Core.Tests.Training;

public class TrainingPrecisionTests
{
    [Fact]
    public void Float32_and_bfloat16_are_used_as_asked()
    {
        Assert.Equal((ScalarType.Float32, null), TrainingPrecision.Resolve(TrainingPrecision.Float32, CPU, fromScratch: true, lora: false));
        var (type, reason) = TrainingPrecision.Resolve(TrainingPrecision.BFloat16, CPU, fromScratch: true, lora: false);
        Assert.Equal(ScalarType.BFloat16, type);
        Assert.Contains("bfloat16", reason);
    }

    [Fact]
    public void LoRA_and_fine_tuning_keep_float32_unless_asked()
    {
        var (loraType, loraReason) = TrainingPrecision.Resolve(TrainingPrecision.BFloat16, CPU, fromScratch: false, lora: true);
        Assert.Equal(ScalarType.Float32, loraType);
        Assert.Contains("LoRA", loraReason);
        Assert.Equal(ScalarType.Float32, TrainingPrecision.Resolve(TrainingPrecision.Auto, CPU, fromScratch: false, lora: false).Type);
    }

    [Fact]
    public void An_unknown_precision_is_refused_with_the_choices()
    {
        var error = Assert.Throws<EngineException>(() => TrainingPrecision.Resolve("fp8", CPU, fromScratch: true, lora: false));
        Assert.Contains("fp8", error.Message);
        Assert.Contains("bf16", error.Message);
    }
}
