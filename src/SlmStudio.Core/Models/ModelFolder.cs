using System.Text.Json;
using System.Text.Json.Nodes;
using SlmStudio.Core.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace SlmStudio.Core.Models;

/// <summary>
/// A Hugging Face model folder: config.json, model.safetensors (or shards listed in model.safetensors.index.json) and
/// (usually) tokenizer.json. Our trained models are saved this way, and Llama, Qwen2, Mistral, Phi-3 and Phi-2 folders
/// made elsewhere load through the same code, with weights in float32, float16 or bfloat16.
/// </summary>
public static class ModelFolder
{
    public const string ConfigFile = "config.json";
    public const string WeightsFile = "model.safetensors";
    public const string WeightsIndexFile = "model.safetensors.index.json";
    public const string TokenizerFile = "tokenizer.json";

    /// <summary>Memory per parameter to run a model: float32 weights.</summary>
    public const int InferenceBytesPerParameter = 4;
    /// <summary>Memory per parameter to train one: weights, gradients and AdamW's two moments, all float32.</summary>
    public const int TrainingBytesPerParameter = 16;
    /// <summary>Larger tokenizer.json files are refused unread: the largest real ones (Llama 3, Gemma) are under 40 MB.</summary>
    public const long MaxTokenizerFileBytes = 64L * 1024 * 1024;
    /// <summary>Real byte-level BPE tokenizers have a few hundred thousand merges; millions only make loading take minutes.</summary>
    public const int MaxTokenizerMerges = 1_000_000;

    public static (LlamaForCausalLM Model, LlamaConfig Config) Load(string folder, Device? device = null)
    {
        if (!Directory.Exists(folder)) throw new EngineException($"The model folder {folder} does not exist.");
        var config = LlamaConfig.Load(Path.Combine(folder, ConfigFile));
        var headers = WeightFiles(folder).Select(SafetensorsFile.ReadHeader).ToList();
        CheckWeightsMatchConfig(config, headers, folder);
        CheckMemory(config, InferenceBytesPerParameter, folder);
        if (File.Exists(Path.Combine(folder, TokenizerFile))) CheckTokenizer(Path.Combine(folder, TokenizerFile), config.VocabSize);
        var model = new LlamaForCausalLM(config);
        try
        {
            LoadWeights(model, headers);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        if (device is not null && device.type != DeviceType.CPU) model.to(device);
        model.eval();
        return (model, config);
    }

    /// <summary>
    /// Everything about a model folder that can be checked without allocating the model: the configuration against the
    /// weights' headers, the memory the model needs (<paramref name="bytesPerParameter"/>) against this machine's, and
    /// the tokenizer against the model's vocabulary. A folder claiming billions of parameters is refused here, not by
    /// running out of memory.
    /// </summary>
    public static LlamaConfig CheckBeforeLoading(string folder, int bytesPerParameter)
    {
        if (!Directory.Exists(folder)) throw new EngineException($"The model folder {folder} does not exist.");
        var config = LlamaConfig.Load(Path.Combine(folder, ConfigFile));
        CheckWeightsMatchConfig(config, WeightFiles(folder).Select(SafetensorsFile.ReadHeader).ToList(), folder);
        CheckMemory(config, bytesPerParameter, folder);
        if (File.Exists(Path.Combine(folder, TokenizerFile))) CheckTokenizer(Path.Combine(folder, TokenizerFile), config.VocabSize);
        return config;
    }

    /// <summary>Parameters a configuration may claim beyond twice what its weights hold before loading is refused unallocated.</summary>
    private const long AllocationSlackParameters = 1 << 20;

    /// <summary>
    /// The number of parameters config.json describes may not be far above the number of values the weights' headers
    /// hold (a tied checkpoint's copy of the embedding and rotary tables aside); the exact per-tensor shapes are
    /// checked when loading.
    /// </summary>
    public static void CheckWeightsMatchConfig(LlamaConfig config, IReadOnlyList<SafetensorsHeader> headers, string folder)
    {
        long stored = 0;
        foreach (var entry in headers.SelectMany(h => h.Entries))
        {
            if (entry.Name.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal) || (entry.Name == "lm_head.weight" && config.TieWordEmbeddings)) continue;
            stored = checked(stored + entry.ElementCount);
        }
        long expected;
        try { expected = checked(ExpectedParameters(config)); }
        catch (OverflowException) { expected = -1; }
        // Small differences are left to the loader, which names the weight that is missing or wrongly shaped; this
        // check is for configurations that would make it allocate far more than the weights could ever fill.
        if (expected < 0 || expected > 2 * stored + AllocationSlackParameters)
            throw new InvalidModelFileException(
                $"{ConfigFile} in {folder} describes a model with {(expected < 0 ? "more parameters than can be counted" : $"{expected:N0} parameters")}, but its weights hold {stored:N0} values: " +
                "the configuration and the weights do not belong together. Copy the complete model folder again from where it came from.");
    }

    private static long ExpectedParameters(LlamaConfig c)
    {
        // LlamaConfig.ParameterCount wraps around silently for absurd sizes: its largest terms are estimated first.
        double d = c.HiddenSize, width = Math.Max(Math.Max(c.IntermediateSize, (double)c.NumHeads * c.HeadDim), d);
        if (2.0 * c.VocabSize * d + 8.0 * c.NumLayers * d * width > long.MaxValue / 2.0) throw new OverflowException();
        return c.ParameterCount;
    }

    /// <summary>Refuses a model whose weights alone would not fit in this machine's memory (the container's limit included).</summary>
    public static void CheckMemory(LlamaConfig config, int bytesPerParameter, string folder)
    {
        var available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        var needed = (double)config.ParameterCount * bytesPerParameter;
        if (available > 0 && needed > available)
            throw new EngineException(
                $"The model in {folder} has {config.ParameterCount:N0} parameters and needs about {needed / 1e9:N1} GB of memory " +
                $"{(bytesPerParameter >= TrainingBytesPerParameter ? "to train" : "to run")}, but this server has {available / 1e9:N1} GB. Choose a smaller model, or use a server with more memory.");
    }

    /// <summary>
    /// Checks a tokenizer.json before it is loaded: its size and merge count are capped (a huge file would take
    /// minutes and gigabytes to load), and every token id it can produce must exist in the model's vocabulary of
    /// <paramref name="modelVocabSize"/>, or the model would fail on the first such token.
    /// </summary>
    public static void CheckTokenizer(string path, int modelVocabSize)
    {
        var name = Path.GetFileName(path);
        var bytes = new FileInfo(path).Length;
        if (bytes > MaxTokenizerFileBytes)
            throw new InvalidModelFileException($"{name} is {bytes / 1e6:N0} MB, more than the {MaxTokenizerFileBytes / 1e6:N0} MB a tokenizer can be; it is not a tokenizer this engine loads.");
        JsonNode? root;
        try { root = JsonNode.Parse(File.ReadAllBytes(path)); }
        catch (JsonException e) { throw new InvalidModelFileException($"{name} is damaged (not valid JSON: {e.Message}).", e); }
        var model = root?["model"] as JsonObject;
        if (model?["merges"] is JsonArray merges && merges.Count > MaxTokenizerMerges)
            throw new InvalidModelFileException($"{name} has {merges.Count:N0} merges, more than the {MaxTokenizerMerges:N0} a tokenizer can have; it is not a tokenizer this engine loads.");
        long highest = -1;
        switch (model?["vocab"])
        {
            case JsonObject vocab:
                foreach (var (_, id) in vocab)
                    if (id is JsonValue v && v.TryGetValue<long>(out var n)) highest = Math.Max(highest, n);
                break;
            case JsonArray pieces: // Unigram: the id is the position
                highest = pieces.Count - 1;
                break;
        }
        if (root?["added_tokens"] is JsonArray added)
            foreach (var token in added)
                if (token?["id"] is JsonValue v && v.TryGetValue<long>(out var n)) highest = Math.Max(highest, n);
        if (highest >= modelVocabSize)
            throw new InvalidModelFileException(
                $"{name} produces token ids up to {highest:N0}, but the model only has {modelVocabSize:N0} tokens (ids 0 to {modelVocabSize - 1:N0}): " +
                "the tokenizer does not belong to this model. Use the tokenizer.json that came with the model.");
    }

    /// <summary>
    /// The safetensors files holding the folder's weights: model.safetensors, or every shard that
    /// model.safetensors.index.json lists (each must be present: a missing one is named).
    /// </summary>
    public static IReadOnlyList<string> WeightFiles(string folder)
    {
        var single = Path.Combine(folder, WeightsFile);
        if (File.Exists(single)) return [single];
        var index = Path.Combine(folder, WeightsIndexFile);
        if (!File.Exists(index))
        {
            var hint = File.Exists(Path.Combine(folder, "pytorch_model.bin")) ? " Only safetensors weights are supported; convert pytorch_model.bin to model.safetensors." : "";
            throw new UnsupportedModelException($"The model folder {folder} has no {WeightsFile} (nor a sharded checkpoint with {WeightsIndexFile}).{hint}");
        }
        List<string> shards;
        try
        {
            var map = JsonNode.Parse(File.ReadAllText(index))?["weight_map"]?.AsObject()
                ?? throw new InvalidModelFileException($"{WeightsIndexFile} in {folder} has no weight_map; the checkpoint index is damaged.");
            shards = map.Select(kv => kv.Value!.GetValue<string>()).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException)
        {
            throw new InvalidModelFileException($"{WeightsIndexFile} in {folder} is damaged ({e.Message}); download the checkpoint again.", e);
        }
        if (shards.Count == 0) throw new InvalidModelFileException($"{WeightsIndexFile} in {folder} lists no weight files.");
        foreach (var shard in shards)
        {
            if (shard.Contains('/') || shard.Contains('\\') || shard.Contains(".."))
                throw new InvalidModelFileException($"{WeightsIndexFile} names the weight file '{shard}' outside the model folder; the checkpoint index is not valid.");
            if (!File.Exists(Path.Combine(folder, shard)))
                throw new InvalidModelFileException($"The weights shard '{shard}' listed in {WeightsIndexFile} is missing from {folder}; copy every part of the checkpoint into the folder.");
        }
        return shards.Select(s => Path.Combine(folder, s)).ToList();
    }

    /// <summary>Every tensor of the folder's weights (all shards), as float32, under the checkpoint's own names.</summary>
    public static IReadOnlyDictionary<string, NamedTensor> ReadWeights(string folder)
    {
        var result = new Dictionary<string, NamedTensor>(StringComparer.Ordinal);
        foreach (var file in WeightFiles(folder))
            foreach (var (name, t) in SafetensorsFile.Read(file))
                if (!result.TryAdd(name, t)) throw new InvalidModelFileException($"The weight '{name}' appears in more than one shard of {folder}; the checkpoint is not valid.");
        return result;
    }

    /// <summary>Copies named tensors (checkpoint names, any family) into the model, refusing missing, unknown or wrongly shaped weights by name.</summary>
    public static void LoadWeights(LlamaForCausalLM model, IReadOnlyDictionary<string, NamedTensor> tensors, string source) =>
        LoadWeights(model, tensors.ToDictionary(t => t.Key, t => t.Value.Shape, StringComparer.Ordinal), name => tensors[name], source);

    /// <summary>
    /// Streams weights from safetensors files into the model one tensor at a time (each converted to float32 on its
    /// own), so a float16/bfloat16 checkpoint never exists twice in memory. Every name and shape is checked against
    /// the headers before any data is read.
    /// </summary>
    private static void LoadWeights(LlamaForCausalLM model, IReadOnlyList<SafetensorsHeader> headers)
    {
        var where = new Dictionary<string, (SafetensorsHeader Header, SafetensorsEntry Entry)>(StringComparer.Ordinal);
        foreach (var header in headers)
            foreach (var entry in header.Entries)
                if (!where.TryAdd(entry.Name, (header, entry)))
                    throw new InvalidModelFileException($"The weight '{entry.Name}' appears in more than one weights file; the checkpoint is not valid.");
        var streams = new Dictionary<string, Stream>(StringComparer.Ordinal);
        try
        {
            var source = headers.Count == 1 ? Path.GetFileName(headers[0].Path) : $"The sharded checkpoint ({headers.Count} files)";
            LoadWeights(model, where.ToDictionary(w => w.Key, w => w.Value.Entry.Shape, StringComparer.Ordinal), name =>
            {
                var (header, entry) = where[name];
                if (!streams.TryGetValue(header.Path, out var stream)) streams[header.Path] = stream = File.OpenRead(header.Path);
                return SafetensorsFile.ReadTensor(stream, header, entry);
            }, source);
        }
        finally
        {
            foreach (var s in streams.Values) s.Dispose();
        }
    }

    private static void LoadWeights(LlamaForCausalLM model, IReadOnlyDictionary<string, long[]> shapes, Func<string, NamedTensor> read, string source)
    {
        var config = model.Config;
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var plan = CheckpointLayout.Plan(config, parameters.Select(p => (p.Key, p.Value.shape)));
        var missing = plan.Where(t => !shapes.ContainsKey(t.TensorName)).Select(t => t.TensorName).ToList();
        if (missing.Count > 0)
            throw new UnsupportedModelException($"{source} does not match config.json: {missing.Count} weight(s) missing, e.g. '{missing[0]}'.");
        foreach (var t in plan)
        {
            if (!shapes[t.TensorName].SequenceEqual(t.Shape))
                throw new UnsupportedModelException($"{source}: weight '{t.TensorName}' has shape [{string.Join(", ", shapes[t.TensorName])}] but config.json implies [{string.Join(", ", t.Shape)}].");
        }
        // Tied checkpoints may still carry lm_head.weight (a copy of the embedding); anything else is a different architecture.
        var needed = plan.Select(t => t.TensorName).ToHashSet(StringComparer.Ordinal);
        var unexpected = shapes.Keys.Where(k => !needed.Contains(k) && !(k == "lm_head.weight" && config.TieWordEmbeddings) && !k.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        if (unexpected.Count > 0)
            throw new UnsupportedModelException($"{source} holds {unexpected.Count} weight(s) this {config.ArchitectureName} implementation does not use, e.g. '{unexpected[0]}': the architecture is not supported.");

        using var _ = no_grad();
        foreach (var t in plan)
        {
            var data = read(t.TensorName);
            using var whole = tensor(data.Data, data.Shape);
            foreach (var (parameter, slot) in t.Parts)
            {
                using var part = whole.narrow(0, slot.FirstRow, slot.Rows);
                parameters[parameter].copy_(part);
            }
        }
    }

    /// <summary>The model's weights under its family's checkpoint names (fused tensors reassembled), ready for safetensors.</summary>
    public static IEnumerable<NamedTensor> ExportWeights(LlamaForCausalLM model)
    {
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        return CheckpointLayout.Plan(model.Config, parameters.Select(p => (p.Key, p.Value.shape))).Select(t =>
        {
            using var joined = cat(t.Parts.Select(part => parameters[part.Parameter].detach()).ToList(), 0);
            using var cpu = joined.cpu().contiguous();
            return new NamedTensor(t.TensorName, t.Shape, cpu.data<float>().ToArray());
        }).ToList();
    }

    /// <summary>
    /// Writes config.json, model.safetensors and tokenizer.json (each atomically); <paramref name="weights"/> replaces
    /// the model's own (e.g. with LoRA adapters merged in, <see cref="LoraAdapters.MergedWeights"/>).
    /// </summary>
    public static void Save(LlamaForCausalLM model, ITokenizer? tokenizer, string folder, IEnumerable<NamedTensor>? weights = null)
    {
        Directory.CreateDirectory(folder);
        SafetensorsFile.Write(Path.Combine(folder, WeightsFile), weights ?? ExportWeights(model), new Dictionary<string, string> { ["format"] = "pt" });
        model.Config.Save(Path.Combine(folder, ConfigFile));
        tokenizer?.Save(Path.Combine(folder, TokenizerFile));
    }
}
