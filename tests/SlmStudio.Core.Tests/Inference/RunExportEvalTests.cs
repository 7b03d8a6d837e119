using SlmStudio.Cli;
using SlmStudio.Core.Artifacts;
using SlmStudio.Core.Export;
using SlmStudio.Core.Inference;
using SlmStudio.Core.Models;
using SlmStudio.Core.Tests.Training;
using SlmStudio.Core.Tokenization;
using SlmStudio.Core.Training;

namespace SlmStudio.Core.Tests.Inference;

/// <summary>End to end: a real (short) training run, exported from its run folder, measured through ONNX Runtime:
/// the loss, perplexity and bits per character equal the trainer's own figures.</summary>
[Collection("Console")]
public sealed class RunExportEvalTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir("slm-run-export");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task ExportedRunReproducesTrainerMetricsAndCarriesThemInTheCard()
    {
        var data = TrainingFixture.WriteCorpus(_dir, lines: 600);
        var run = Path.Combine(_dir, "run");
        var options = TrainingFixture.Options(data, run, maxSteps: 30, evalEvery: 15);
        var finished = new Trainer(options, new TrainingFixture.Recorder()).Run(resume: false, CancellationToken.None);

        var artifactDir = Path.Combine(_dir, "artifact");
        var result = ModelExporter.Export(run, artifactDir);
        Assert.True(result.Passed);

        var manifest = ArtifactManifest.Load(artifactDir);
        Assert.Equal("run", manifest.Source!.Kind);
        Assert.Equal(64, manifest.ContextLength);
        Assert.Equal(finished.BestValLoss, manifest.Metrics!["bestValLoss"], 6);
        var card = File.ReadAllText(Path.Combine(artifactDir, "README.md"));
        Assert.Contains(Path.GetFileName(data), card);
        Assert.DoesNotContain(Path.GetFullPath(data), card); // no server paths in a card that travels with the model
        Assert.Contains("Best validation loss", card);
        Assert.Contains("tiny", card);

        // The trainer's validation text, windows and formula, through ONNX Runtime.
        var validation = TextCorpus.Load(data, options.ValidationFraction).ValidationDocuments;
        using var artifact = OnnxArtifact.Open(artifactDir);
        var onnx = new OnnxEvaluator(artifact).Evaluate(validation, maxWindows: 64);
        Assert.Equal(finished.BestValLoss, onnx.Loss, 4);
        Assert.Equal(finished.Perplexity, onnx.Perplexity, 3);
        Assert.Equal(finished.BitsPerChar, onnx.BitsPerChar, 4);

        // slm eval on a dataset-version-shaped folder prints the same figures.
        var dataset = Directory.CreateDirectory(Path.Combine(_dir, "dataset")).FullName;
        File.WriteAllText(Path.Combine(dataset, "dataset.json"), "{}");
        File.WriteAllText(Path.Combine(dataset, "train.txt"), "unused");
        File.WriteAllText(Path.Combine(dataset, "val.txt"), string.Join("", validation));
        var output = await CaptureConsole(() => SlmCommandLine.RunAsync(["eval", artifactDir, "--data", dataset, "--json"], CancellationToken.None));
        Assert.Equal(0, output.Code);
        using var doc = System.Text.Json.JsonDocument.Parse(output.Text);
        var whole = new OnnxEvaluator(artifact).Evaluate([string.Join("", validation)]);
        Assert.Equal(whole.Loss, doc.RootElement.GetProperty("valLoss").GetDouble(), 10);
    }

    [Fact]
    public void OnnxEvaluatorEqualsTorchSharpMeanLossOnAllWindows()
    {
        var config = Export.OnnxTestModels.Custom(hidden: 48, layers: 2, heads: 4, kvHeads: 2, tied: true, context: 32);
        var modelDir = Export.OnnxTestModels.CreateModelFolder(config, Path.Combine(_dir, "model"), seed: 3);
        ModelExporter.Export(modelDir, Path.Combine(_dir, "artifact"));
        using var artifact = OnnxArtifact.Open(Path.Combine(_dir, "artifact"));
        var docs = new[] { TrainingFixture.StructuredCorpus(30), "the cat and the win" };
        var onnx = new OnnxEvaluator(artifact).Evaluate(docs, contextLength: 32);

        var ids = DocumentStream.Encode(artifact.Tokenizer, docs).ToList();
        var bin = Path.Combine(_dir, "val.bin");
        TokenBin.Write(bin, ids, config.VocabSize);
        using var tokens = TokenBin.Open(bin, config.VocabSize);
        var (model, _) = ModelFolder.Load(modelDir);
        using (model)
        {
            var torchLoss = Evaluation.MeanLoss(model, tokens, DocumentStream.Windows(ids.Count, 32, int.MaxValue), 4);
            Assert.Equal(torchLoss, onnx.Loss, 5);
        }
        Assert.Equal(ids.Count, onnx.Tokens);
        Assert.Equal(ids.Count - 1, onnx.PredictedTokens);
        var chars = docs.Sum(d => d.Length);
        Assert.Equal(onnx.Loss / (Math.Log(2) * chars / ids.Count), onnx.BitsPerChar, 10);
    }

    internal static async Task<(int Code, string Text)> CaptureConsole(Func<Task<int>> action)
    {
        var previous = Console.Out;
        var writer = new StringWriter();
        Console.SetOut(writer);
        try { return (await action(), writer.ToString()); }
        finally { Console.SetOut(previous); }
    }
}
