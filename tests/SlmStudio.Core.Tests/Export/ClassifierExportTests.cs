using System.Text.Json;
using SlmStudio.Core.Artifacts;
using SlmStudio.Core.Classification;
using SlmStudio.Core.Export;
using SlmStudio.Core.Inference;
using SlmStudio.Core.Models;
using SlmStudio.Core.Tokenization;
using SlmStudio.Core.Tests.Classification;

namespace SlmStudio.Core.Tests.Export;

/// <summary>The classifier's ONNX graph against TorchSharp: untrained weights are enough to tell a wrong graph from a right one.</summary>
public sealed class ClassifierExportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("slm-classifier-export-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly string[] Texts = ["my parcel never arrived", "refund", "i am locked out of my account since this morning, please help", "cancel", "x"];

    private (string Folder, HfTokenizer Tokenizer) SaveClassifier(ClassifierPooling pooling, bool tied, int? maxTokens = null, int pairBuckets = 0, double backboneBound = 0)
    {
        var tokenizer = new BpeTrainer(300).Train(SyntheticIntents.Make(10, seed: 5).Select(e => e.Text));
        var config = new LlamaConfig
        {
            VocabSize = tokenizer.VocabSize, HiddenSize = 32, IntermediateSize = 64, NumLayers = 2, NumHeads = 4, NumKvHeads = 2, MaxPositions = 64,
            TieWordEmbeddings = tied,
        };
        using var model = new LlamaForSequenceClassification(config, SyntheticIntents.Labels, pooling, pairBuckets,
            pairBuckets > 0 ? TokenSpelling.Of(tokenizer, buckets: 257) : null, backboneBound);
        model.InitializeWeights(seed: 11);
        using (TorchSharp.torch.no_grad())
            foreach (var (name, p) in model.named_parameters().Where(p => p.name.Contains("_scores.", StringComparison.Ordinal)))
                TorchSharp.torch.nn.init.normal_(p, 0, 1); // trained word scores are not zero: the graph must add them as training does
        if (backboneBound > 0)
            using (TorchSharp.torch.no_grad())
            {
                model.named_parameters().First(p => p.name == "score.weight").parameter.mul_(200); // logits well past the bound, where tanh bends
                model.Temperature = 0.4;
            }
        var folder = Path.Combine(_dir, $"classifier-{pooling}-{tied}-{pairBuckets}-{backboneBound}");
        ClassifierFolder.Save(model, tokenizer, folder, maxTokens);
        return (folder, tokenizer);
    }

    [Theory]
    [InlineData(ClassifierPooling.Mean, true, 0)]
    [InlineData(ClassifierPooling.LastToken, true, 0)]
    [InlineData(ClassifierPooling.Mean, false, 0)]
    [InlineData(ClassifierPooling.Mean, true, 97)]
    [InlineData(ClassifierPooling.LastToken, false, 97)]
    [InlineData(ClassifierPooling.Mean, true, 97, 0.5)]
    public void Exported_graph_gives_the_training_models_probabilities_for_single_texts_and_padded_batches(ClassifierPooling pooling, bool tied, int pairBuckets, double backboneBound = 0)
    {
        var (folder, _) = SaveClassifier(pooling, tied, pairBuckets: pairBuckets, backboneBound: backboneBound);
        var artifact = Path.Combine(_dir, "artifact");
        var result = ClassifierExporter.Export(folder, artifact);
        Assert.True(result.Passed, $"parity {result.Parity.PrefillMaxAbsDiff}");
        Assert.True(result.Parity.GreedyMatches);
        Assert.Contains(result.Parity.Cases, c => c.Batch > 1); // the padded batch was checked

        using var reference = ClassifierFolder.Load(folder);
        using var onnx = OnnxClassifier.Open(artifact);
        Assert.Equal(SyntheticIntents.Labels, onnx.Labels);
        var ids = onnx.Encode(Texts);
        Assert.True(ids.Select(s => s.Length).Distinct().Count() >= 3); // different lengths: a batch of them is padded
        if (pairBuckets > 0) Assert.Contains(ids, s => s.Length == 1); // a text with no pair of tokens
        var expected = ClassifierTrainer.PredictProbabilities(reference, ids, batchSize: 1, padId: onnx.Tokenizer.PadId ?? 0);
        var padded = onnx.RunPadded(ids);
        var batched = onnx.Probabilities(Texts, batchSize: 3);
        for (int r = 0; r < Texts.Length; r++)
        {
            Assert.Equal(1.0, padded[r].Sum(), 4);
            for (int i = 0; i < expected[r].Length; i++)
            {
                Assert.InRange(Math.Abs(padded[r][i] - expected[r][i]), 0, 1e-4);
                Assert.InRange(Math.Abs(batched[r][i] - expected[r][i]), 0, 1e-4);
            }
        }
    }

    [Fact]
    public void Artifact_says_it_is_a_classifier_and_names_its_signature_in_the_model_card()
    {
        var (folder, _) = SaveClassifier(ClassifierPooling.Mean, tied: true, maxTokens: 16);
        var artifact = Path.Combine(_dir, "artifact");
        ClassifierExporter.Export(folder, artifact);
        var manifest = ArtifactManifest.Load(artifact);
        Assert.Equal("classify", manifest.Task);
        Assert.Equal(16, manifest.ContextLength);
        foreach (var file in new[] { "model.onnx", "labels.json", "tokenizer.json", "tokenizer_config.json", "config.json", "model.safetensors", "README.md" })
            Assert.Contains(manifest.Files, f => f.Path == file);
        Assert.True(OnnxClassifier.IsClassifierArtifact(artifact));

        var card = File.ReadAllText(Path.Combine(artifact, "README.md"));
        Assert.Contains("InferenceSession", card);
        Assert.Contains("\"probabilities\"", card);
        Assert.Contains("labels[top]", card);

        using var onnx = OnnxClassifier.Open(artifact);
        Assert.Equal(16, onnx.MaxTokens);
        Assert.All(onnx.Encode([string.Join(' ', Enumerable.Repeat("invoice parcel password", 40))]), s => Assert.Equal(16, s.Length));
        var ranked = onnx.Classify(["where is my parcel"])[0];
        Assert.Equal(SyntheticIntents.Labels.Order(), ranked.Select(r => r.Label).Order());
        Assert.True(ranked.Zip(ranked.Skip(1)).All(p => p.First.Probability >= p.Second.Probability));
    }

    [Fact]
    public void A_changed_labels_file_is_refused()
    {
        var (folder, _) = SaveClassifier(ClassifierPooling.Mean, tied: true);
        var artifact = Path.Combine(_dir, "artifact");
        ClassifierExporter.Export(folder, artifact);
        var labelsPath = Path.Combine(artifact, ClassifierFolder.LabelsFile);
        File.WriteAllText(labelsPath, JsonSerializer.Serialize(new ClassifierLabels(["d", "c", "b", "a"], ClassifierPooling.Mean)));
        var error = Assert.Throws<InvalidModelFileException>(() => OnnxClassifier.Open(artifact));
        Assert.Contains("labels.json", error.Message);
    }
}
