using System.Reflection;
using System.Text.Json;

namespace SlmStudio.Core.Models;

/// <summary>A size preset (data, from presets.json): the shape of the model and the training defaults that suit it.</summary>
/// <param name="Optimizer">How a run from scratch updates the layers' matrices (<see cref="Training.Muon"/>): Muon only where it was measured better.</param>
public sealed record ModelPreset(
    string Name, string Description, int HiddenSize, int Layers, int Heads, int KvHeads, int IntermediateSize,
    int ContextLength, int BatchSize, double LearningRate, Training.MatrixOptimizer Optimizer = Training.MatrixOptimizer.AdamW)
{
    public LlamaConfig ConfigFor(int vocabSize, int? bosId = null, int? eosId = null, int? padId = null) => new()
    {
        VocabSize = vocabSize,
        HiddenSize = HiddenSize,
        IntermediateSize = IntermediateSize,
        NumLayers = Layers,
        NumHeads = Heads,
        NumKvHeads = KvHeads,
        MaxPositions = ContextLength,
        TieWordEmbeddings = true,
        BosTokenId = bosId,
        EosTokenId = eosId,
        PadTokenId = padId,
    };

    /// <summary>Parameter count with the given vocabulary: computed from the shape, never typed in.</summary>
    public long ParameterCount(int vocabSize) => ConfigFor(vocabSize).ParameterCount;

    /// <summary>
    /// Memory a training run needs, in bytes: weights, gradients and two AdamW moments (16 bytes a parameter) plus the
    /// activations kept for the backward pass (about 34·C + 5·H·T floats per token and layer, as in Korthikanti et al.),
    /// plus the logits, times 1.5 for the allocator, plus 0.5 GB for the runtime itself. Calibrated against peak
    /// resident memory measured on a 2-core CPU (tiny 0.9 GB, small 2.7 GB over the first steps; a long small run
    /// grew to about 3.5 GB), so it errs on the high side.
    /// </summary>
    private const long RuntimeBytes = 512L << 20;

    public long TrainingMemoryBytes(int vocabSize)
    {
        long tokens = (long)BatchSize * ContextLength;
        long activations = tokens * Layers * (34L * HiddenSize + 5L * Heads * ContextLength) * 4 / 2;
        long logits = tokens * vocabSize * 4 * 3;
        return (long)((16 * ParameterCount(vocabSize) + activations + logits) * 1.5) + RuntimeBytes;
    }
}

public static class ModelPresets
{
    public const string Auto = "auto";

    public static IReadOnlyList<ModelPreset> All { get; } = Load();

    public static ModelPreset Get(string name) =>
        All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new EngineException($"Unknown preset '{name}'. Choose one of: {string.Join(", ", All.Select(p => p.Name))}, or auto.");

    private static IReadOnlyList<ModelPreset> Load()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("SlmStudio.Core.presets.json")
            ?? throw new InvalidOperationException("presets.json is not embedded in SlmStudio.Core.");
        return JsonSerializer.Deserialize<List<ModelPreset>>(stream, new JsonSerializerOptions(JsonSerializerDefaults.Web))!;
    }
}
