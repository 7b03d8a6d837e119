using SlmStudio.Core.Export;
using SlmStudio.Core.Inference;
using SlmStudio.Core.Models;
using Xunit.Abstractions;

namespace SlmStudio.Core.Tests.Export;

/// <summary>ONNX Runtime against TorchSharp: presets and hand-made shapes (with and without grouped-query attention and
/// tied embeddings), several batch sizes and prompt lengths, prefill and step-by-step KV-cache decoding.</summary>
public sealed class ParityMatrixTests(ITestOutputHelper output)
{
    public static TheoryData<string, LlamaConfig> Models => new()
    {
        { "tiny preset (GQA 4/2, tied)", OnnxTestModels.Preset("tiny") },
        { "small preset (GQA 8/4, tied)", OnnxTestModels.Preset("small") },
        { "MHA 4/4, untied", OnnxTestModels.Custom(hidden: 64, layers: 2, heads: 4, kvHeads: 4, tied: false) },
        { "GQA 8/2, untied", OnnxTestModels.Custom(hidden: 64, layers: 3, heads: 8, kvHeads: 2, tied: false) },
        { "MQA 4/1, tied", OnnxTestModels.Custom(hidden: 48, layers: 2, heads: 4, kvHeads: 1, tied: true) },
        { "MHA 2/2, tied", OnnxTestModels.Custom(hidden: 32, layers: 1, heads: 2, kvHeads: 2, tied: true) },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void ExportedModelMatchesTorchSharp(string name, LlamaConfig config)
    {
        var root = TestPaths.NewTempDir("slm-parity");
        try
        {
            var modelDir = OnnxTestModels.CreateModelFolder(config, Path.Combine(root, "model"));
            var result = ModelExporter.Export(modelDir, Path.Combine(root, "artifact"));
            output.WriteLine($"{name}: export {result.Duration.TotalSeconds:F2} s (parity check {result.ParityDuration.TotalSeconds:F2} s), prefill {result.Parity.PrefillMaxAbsDiff:E2}, decode {result.Parity.DecodeMaxAbsDiff:E2}");
            Assert.True(result.Passed, $"{name}: prefill {result.Parity.PrefillMaxAbsDiff}, decode {result.Parity.DecodeMaxAbsDiff}");
            Assert.True(result.Parity.GreedyMatches);

            // The wider matrix, on the artifact as a user would open it.
            var (model, _) = ModelFolder.Load(modelDir);
            using (model)
            using (var artifact = OnnxArtifact.Open(result.ArtifactDir))
            {
                var rng = new Random(3);
                foreach (var batch in new[] { 1, 3 })
                    foreach (var prompt in new[] { 1, 5, 40 })
                    {
                        const int steps = 4;
                        var ids = Enumerable.Range(0, batch * (prompt + steps)).Select(_ => (long)rng.Next(config.VocabSize)).ToArray();
                        var (prefill, decode) = OnnxParity.Compare(model, artifact.Decoder, ids, batch, prompt, steps);
                        output.WriteLine($"  batch {batch}, prompt {prompt}: prefill {prefill:E2}, decode {decode:E2}");
                        Assert.True(prefill <= 1e-4, $"{name} batch {batch} prompt {prompt}: prefill max abs diff {prefill}");
                        Assert.True(decode <= 1e-4, $"{name} batch {batch} prompt {prompt}: decode max abs diff {decode}");
                    }
                var promptIds = Enumerable.Range(0, 6).Select(_ => rng.Next(config.VocabSize)).ToArray();
                Assert.Equal(Generation.Greedy(model, promptIds, 12), OnnxParity.OnnxGreedy(artifact.Decoder, promptIds, 12));
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
