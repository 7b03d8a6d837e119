using SlmStudio.Cli;
using SlmStudio.Cli.Commands;
using SlmStudio.Core.Inference;
using SlmStudio.Core.Models;
using SlmStudio.Core.Tests.Export;

namespace SlmStudio.Core.Tests.Inference;

/// <summary>slm export / generate / eval / bench generate, called as the dispatcher calls them.</summary>
[Collection("Console")]
public sealed class CliOnnxCommandTests(OnnxTestModels.TinyArtifact tiny) : IClassFixture<OnnxTestModels.TinyArtifact>
{
    private static Task<(int Code, string Text)> Run(ICliCommand command, params string[] args) =>
        RunExportEvalTests.CaptureConsole(() => command.RunAsync(new CliArgs(args), CancellationToken.None));

    [Fact]
    public async Task ExportPrintsParityFilesAndTime()
    {
        var target = Path.Combine(tiny.Root, "cli-" + Guid.NewGuid().ToString("N"));
        var (code, text) = await Run(new ExportCommand(), tiny.ModelDir, "--out", target);
        Assert.Equal(0, code);
        Assert.Contains("parity: prefill max abs diff", text);
        Assert.Contains("model.onnx", text);
        Assert.Contains("export time:", text);
        Assert.True(File.Exists(Path.Combine(target, "manifest.json")));
        await Assert.ThrowsAsync<UsageException>(() => Run(new ExportCommand(), tiny.ModelDir));
        await Assert.ThrowsAsync<UsageException>(() => Run(new ExportCommand(), "--out", target));
    }

    [Fact]
    public async Task GenerateGreedyStreamsTheGreedyContinuation()
    {
        var (code, text) = await Run(new GenerateCommand(), tiny.ArtifactDir, "--prompt", "the cat", "--max-tokens", "12", "--temperature", "0");
        Assert.Equal(0, code);
        using var artifact = OnnxArtifact.Open(tiny.ArtifactDir);
        var expected = new List<GeneratedToken>();
        await foreach (var t in new TextGenerator(artifact).GenerateAsync("the cat", new GenerationSettings(12, Temperature: 0), CancellationToken.None)) expected.Add(t);
        Assert.Equal("the cat" + string.Concat(expected.Select(t => t.Text)) + Environment.NewLine, text);

        var (emptyCode, _) = await Run(new GenerateCommand(), tiny.ArtifactDir, "--prompt", "", "--max-tokens", "5", "--seed", "3");
        Assert.Equal(0, emptyCode);
        await Assert.ThrowsAsync<UsageException>(() => Run(new GenerateCommand(), tiny.ArtifactDir, "--prompt", "x", "--top-p", "0"));
        await Assert.ThrowsAsync<UsageException>(() => Run(new GenerateCommand(), tiny.ArtifactDir));
        var missing = await Assert.ThrowsAsync<InvalidModelFileException>(() => Run(new GenerateCommand(), Path.Combine(tiny.Root, "nope"), "--prompt", "x"));
        Assert.Contains("does not exist", missing.Message);
    }

    [Fact]
    public async Task EvalPrintsLossPerplexityAndBitsPerChar()
    {
        var data = Path.Combine(tiny.Root, "eval-" + Guid.NewGuid().ToString("N") + ".txt");
        File.WriteAllText(data, "the cat and the win. the dog and the cat.\n");
        var (code, text) = await Run(new EvalCommand(), tiny.ArtifactDir, "--data", data);
        Assert.Equal(0, code);
        Assert.Contains("validation loss:", text);
        Assert.Contains("perplexity:", text);
        Assert.Contains("bits per char:", text);
        await Assert.ThrowsAsync<UsageException>(() => Run(new EvalCommand(), tiny.ArtifactDir, "--data", Path.Combine(tiny.Root, "missing.txt")));
    }

    [Fact]
    public async Task BenchGenerateReportsBothEnginesAndTheRatio()
    {
        var (code, text) = await Run(new BenchGenerateCommand(), "--preset", "tiny", "--vocab-size", "512", "--prompt-tokens", "16", "--new-tokens", "8", "--repeats", "1", "--json");
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
