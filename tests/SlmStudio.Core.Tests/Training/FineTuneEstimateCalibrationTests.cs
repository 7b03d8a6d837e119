using SlmStudio.Core.Models;
using SlmStudio.Core.Training;

namespace SlmStudio.Core.Tests.Training;

/// <summary>The memory estimate against peaks measured with <c>slm bench lora</c> (LoRA rank 8, batch 4, context 256),
/// and the refusal it leads to.</summary>
public class FineTuneEstimateCalibrationTests
{
    [Theory]
    [InlineData("smollm2-135m", 8.0)]
    [InlineData("qwen2.5-0.5b", 15.3)]
    public void The_estimate_is_within_ten_percent_of_the_measured_peak_and_not_below_it_by_more(string config, double measuredGigabytes)
    {
        var estimate = FineTuneEstimate.For(PublishedConfigs.Get(config)!, new LoraConfig(), batchSize: 4, contextLength: 256);
        var measured = measuredGigabytes * 1e9;
        Assert.InRange(estimate.PeakBytes, measured * 0.95, measured * 1.10);
        // Before calibration the listed tensors were a third short of what the process really held.
        Assert.True(estimate.ListedBytes < measured * 0.7, $"{estimate.ListedBytes:N0}");
    }

    [Fact]
    public void A_run_that_cannot_fit_is_refused_with_the_reason_and_what_to_do()
    {
        var qwen = PublishedConfigs.Get("qwen2.5-0.5b")!;
        var full = FineTuneEstimate.ForBaseModelRun(qwen, lora: false);
        var lora = FineTuneEstimate.ForBaseModelRun(qwen, lora: true);
        Assert.True(full.PeakBytes > lora.PeakBytes);

        // A machine between the two: adapters fit, full fine-tuning does not, and the message says so with figures.
        var machine = (long)((lora.PeakBytes + full.PeakBytes) / 2 / 0.9);
        Assert.Null(lora.RefusalFor("qwen", lora: true, machine));
        var refusal = full.RefusalFor("qwen", lora: false, machine, withLora: lora);
        Assert.NotNull(refusal);
        Assert.Contains("Fine-tuning qwen in full needs about " + FineTuneEstimate.Gigabytes(full.PeakBytes), refusal);
        Assert.Contains("this server has " + FineTuneEstimate.Gigabytes(machine), refusal);
        Assert.Contains("smaller base model", refusal);
        Assert.Contains("switch on adapters (LoRA), which needs about " + FineTuneEstimate.Gigabytes(lora.PeakBytes), refusal);
        Assert.Contains("shorter context", refusal);

        // A machine too small even for adapters.
        var tiny = lora.RefusalFor("qwen", lora: true, 1L << 30);
        Assert.NotNull(tiny);
        Assert.DoesNotContain("switch on adapters", tiny);
    }
}
