using SlmStudio.Core.Export;
using SlmStudio.Core.Models;
using SlmStudio.Core.Tokenization;

namespace SlmStudio.Core.Tests.Export;

/// <summary>Small random-weight Hugging Face model folders (with the fixture's tokenizer) and their exported artifacts.</summary>
public static class OnnxTestModels
{
    /// <summary>The tiny-llama fixture: beside the repository (main checkout) or at the shared path (helper worktrees).</summary>
    public static readonly string FixtureDir = Directory.Exists(TestPaths.TinyLlama) ? TestPaths.TinyLlama : "/work/shared/fixtures/tiny-llama-hf";
    public static readonly string FixtureTokenizer = Path.Combine(FixtureDir, "tokenizer.json");
    public const int FixtureVocab = 323;

    /// <summary>A config shaped like a preset, with the fixture's vocabulary and special tokens.</summary>
    public static LlamaConfig Preset(string name) => ModelPresets.Get(name).ConfigFor(FixtureVocab, 1, 2);

    public static LlamaConfig Custom(int hidden, int layers, int heads, int kvHeads, bool tied, int ff = 96, int context = 64) => new()
    {
        VocabSize = FixtureVocab, HiddenSize = hidden, NumLayers = layers, NumHeads = heads, NumKvHeads = kvHeads,
        IntermediateSize = ff, MaxPositions = context, TieWordEmbeddings = tied, BosTokenId = 1, EosTokenId = 2,
    };

    /// <summary>Writes config.json, model.safetensors (random weights from <paramref name="seed"/>) and tokenizer.json.</summary>
    public static string CreateModelFolder(LlamaConfig config, string dir, long seed = 42)
    {
        using var model = new LlamaForCausalLM(config);
        model.InitializeWeights(seed);
        ModelFolder.Save(model, TokenizerFile.Load(FixtureTokenizer), dir);
        return dir;
    }

    /// <summary>A model folder and its artifact, made once per test class that shares it.</summary>
    public sealed class TinyArtifact : IDisposable
    {
        public string Root { get; } = TestPaths.NewTempDir("slm-onnx-artifact");
        public string ModelDir => Path.Combine(Root, "model");
        public string ArtifactDir => Path.Combine(Root, "artifact");
        public ExportResult Result { get; }
        public LlamaConfig Config { get; } = Custom(hidden: 64, layers: 2, heads: 4, kvHeads: 2, tied: true, ff: 160, context: 96);

        public TinyArtifact()
        {
            CreateModelFolder(Config, ModelDir, seed: 7);
            Result = ModelExporter.Export(ModelDir, ArtifactDir);
        }

        /// <summary>A private copy of the artifact that a test may damage.</summary>
        public string CopyArtifact()
        {
            var copy = Path.Combine(Root, "copy-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(copy);
            foreach (var f in Directory.GetFiles(ArtifactDir)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
            return copy;
        }

        public void Dispose() => Directory.Delete(Root, recursive: true);
    }
}
