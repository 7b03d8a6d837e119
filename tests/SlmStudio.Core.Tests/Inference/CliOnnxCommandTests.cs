using SlmStudio.Cli;
using SlmStudio.Core.Inference;
using SlmStudio.Core.Models;
using SlmStudio.Core.Tests.Export;

namespace SlmStudio.Core.Tests.Inference;

/// <summary>slm export / generate / eval / bench generate, run in-process through the real command line.</summary>
[Collection("Console")]
public sealed class CliOnnxCommandTests(OnnxTestModels.TinyArtifact tiny) : IClassFixture<OnnxTestModels.TinyArtifact>
{
    private static Task<(int Code, string Text)> Run(params string[] args) =>
        RunExportEvalTests.CaptureConsole(() => SlmCommandLine.RunAsync(args, CancellationToken.None));

    [Fact]
    public async Task ExportPrintsParityFilesAndTime()
    {
        var target = Path.Combine(tiny.Root, "cli-" + Guid.NewGuid().ToString("N"));
        var (code, text) = await Run("export", tiny.ModelDir, "--out", target);
        Assert.Equal(0, code);
        Assert.Contains("parity: prefill max abs diff", text);
        Assert.Contains("model.onnx", text);
        Assert.Contains("export time:", text);
        Assert.True(File.Exists(Path.Combine(target, "manifest.json")));
        Assert.Equal(SlmCommandLine.UsageExitCode, (await Run("export", tiny.ModelDir)).Code);
        Assert.Equal(SlmCommandLine.UsageExitCode, (await Run("export", "--out", target)).Code);
    }

    [Fact]
    public async Task GenerateGreedyStreamsTheGreedyContinuation()
    {
        var (code, text) = await Run("generate", tiny.ArtifactDir, "--prompt", "the cat", "--max-tokens", "12", "--temperature", "0");
        Assert.Equal(0, code);
        using var artifact = OnnxArtifact.Open(tiny.ArtifactDir);
        var expected = new List<GeneratedToken>();
        await foreach (var t in new TextGenerator(artifact).GenerateAsync("the cat", new GenerationSettings(12, Temperature: 0), CancellationToken.None)) expected.Add(t);
        Assert.Equal("the cat" + string.Concat(expected.Select(t => t.Text)) + Environment.NewLine, text);

        var (emptyCode, _) = await Run("generate", tiny.ArtifactDir, "--prompt", "", "--max-tokens", "5", "--seed", "3");
        Assert.Equal(0, emptyCode);
        Assert.Equal(SlmCommandLine.UsageExitCode, (await Run("generate", tiny.ArtifactDir, "--prompt", "x", "--top-p", "0")).Code);
        Assert.Equal(SlmCommandLine.UsageExitCode, (await Run("generate", tiny.ArtifactDir)).Code);
        // An engine error (the folder does not exist) is exit code 1; its one-line message is checked in SlmStudio.Cli.Tests.
        Assert.Equal(SlmCommandLine.FailureExitCode, (await Run("generate", Path.Combine(tiny.Root, "nope"), "--prompt", "x")).Code);
    }

    [Fact]
    public async Task EvalPrintsLossPerplexityAndBitsPerChar()
    {
        var data = Path.Combine(tiny.Root, "eval-" + Guid.NewGuid().ToString("N") + ".txt");
        File.WriteAllText(data, "the cat and the win. the dog and the cat.\n");
        var (code, text) = await Run("eval", tiny.ArtifactDir, "--data", data);
        Assert.Equal(0, code);
        Assert.Contains("validation loss:", text);
        Assert.Contains("perplexity:", text);
        Assert.Contains("bits per char:", text);
        Assert.Equal(SlmCommandLine.UsageExitCode, (await Run("eval", tiny.ArtifactDir, "--data", Path.Combine(tiny.Root, "missing.txt"))).Code);
    }

    [Fact]
    public async Task BenchGenerateReportsBothEnginesAndTheRatio()
    {
        var (code, text) = await Run("bench", "generate", "--preset", "tiny", "--vocab-size", "512", "--prompt-tokens", "16", "--new-tokens", "8", "--repeats", "1", "--json");
        Assert.Equal(0, code);
        using var doc = System.Text.Json.JsonDocument.Parse(text);
        var root = doc.RootElement;
        Assert.True(root.GetProperty("onnx").GetProperty("decodeTokensPerSecond").GetDouble() > 0);
        Assert.True(root.GetProperty("torchSharp").GetProperty("decodeTokensPerSecond").GetDouble() > 0);
        Assert.True(root.GetProperty("onnx").GetProperty("timeToFirstTokenMs").GetDouble() > 0);
        Assert.True(root.GetProperty("decodeRatio").GetDouble() > 0);
        Assert.True(root.GetProperty("exportSeconds").GetDouble() > 0);
        Assert.True(root.GetProperty("parityPrefillMaxAbsDiff").GetDouble() <= 1e-4);
    }
}
