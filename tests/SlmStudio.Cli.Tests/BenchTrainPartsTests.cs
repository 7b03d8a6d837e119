using System.Text.Json;
using SlmStudio.Core.Models;

namespace SlmStudio.Cli.Tests;

/// <summary><c>slm bench train --parts</c>: the report's shape for the tiny preset, not the speed.</summary>
public sealed class BenchTrainPartsTests
{
    [Fact]
    public void Bench_train_parts_times_a_step_a_layer_its_attention_and_the_output_layer()
    {
        var (exit, stdout, stderr) = AskCommandTests.Slm("bench", "train", "--parts", "--presets", "tiny", "--steps", "1", "--vocab-size", "512", "--json");
        Assert.True(exit == 0, stderr);
        var tiny = Assert.Single(JsonDocument.Parse(stdout).RootElement.GetProperty("presets").EnumerateArray());
        var preset = ModelPresets.Get("tiny");
        Assert.Equal("tiny", tiny.GetProperty("preset").GetString());
        Assert.Equal(preset.Layers, tiny.GetProperty("layers").GetInt32());
        Assert.Equal(preset.BatchSize, tiny.GetProperty("batchSize").GetInt32());
        Assert.Equal(preset.ContextLength, tiny.GetProperty("contextLength").GetInt32());
        Assert.Contains(tiny.GetProperty("stepPrecision").GetString(), new[] { "fp32", "bf16" });
        foreach (var part in new[] { "stepMs", "layerMs", "attentionMs", "outputMs", "attentionShareOfLayer" })
            Assert.True(tiny.GetProperty(part).GetDouble() > 0, $"{part} in {stdout}");
    }
}
