using System.Text.Json;
using System.Text.Json.Nodes;

namespace SlmStudio.Core.Tokenization;

/// <summary>Loads Hugging Face tokenizer.json files: ours, and those that real Llama-family base models ship.</summary>
public static class TokenizerFile
{
    private static readonly string[] BosNames = ["<|begin_of_text|>", "<s>", "<|startoftext|>", "<bos>", "<|im_start|>"];
    private static readonly string[] EosNames = ["<|end_of_text|>", "</s>", "<|endoftext|>", "<eos>", "<|eot_id|>", "<|im_end|>"];
    private static readonly string[] PadNames = ["<|pad|>", "<pad>", "[PAD]", "<|finetune_right_pad_id|>"];

    /// <summary>
    /// Loads <paramref name="tokenizerJsonPath"/>. The beginning/end/padding tokens come from a tokenizer_config.json
    /// beside it when there is one, otherwise from the post-processor and the usual token names.
    /// </summary>
    public static HfTokenizer Load(string tokenizerJsonPath)
    {
        if (!File.Exists(tokenizerJsonPath))
            throw new UnsupportedModelException($"No tokenizer file at {tokenizerJsonPath}: a model folder needs tokenizer.json (the Hugging Face fast-tokenizer file).");
        JsonObject json;
        try { json = JsonNode.Parse(File.ReadAllText(tokenizerJsonPath))?.AsObject() ?? throw new JsonException("empty document"); }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        { throw new UnsupportedModelException($"{tokenizerJsonPath} is not a valid tokenizer.json ({e.Message})."); }

        JsonObject? config = null;
        var configPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(tokenizerJsonPath))!, "tokenizer_config.json");
        if (File.Exists(configPath))
        {
            try { config = JsonNode.Parse(File.ReadAllText(configPath)) as JsonObject; }
            catch (JsonException) { config = null; } // optional file; the token names below still find the ids
        }
        try { return Parse(json, config); }
        catch (Exception e) when (e is InvalidOperationException or FormatException or KeyNotFoundException or ArgumentException)
        { throw new UnsupportedModelException($"{tokenizerJsonPath} could not be read as a tokenizer ({e.Message})."); }
    }

    /// <summary>Builds the tokenizer described by a parsed tokenizer.json (and optional tokenizer_config.json).</summary>
    public static HfTokenizer Parse(JsonObject json, JsonObject? tokenizerConfig = null)
    {
        var model = json["model"] as JsonObject ?? throw new UnsupportedModelException("The tokenizer.json has no \"model\".");
        var modelType = model["type"]?.GetValue<string>() ?? (model["merges"] is not null ? "BPE" : null);
        if (modelType != "BPE")
            throw TokenizerJson.Unsupported($"the tokenizer model type '{modelType ?? "(none)"}'");
        if (model["continuing_subword_prefix"]?.GetValue<string>() is { Length: > 0 } prefix)
            throw TokenizerJson.Unsupported($"BPE continuing_subword_prefix '{prefix}'");
        if (model["end_of_word_suffix"]?.GetValue<string>() is { Length: > 0 } suffix)
            throw TokenizerJson.Unsupported($"BPE end_of_word_suffix '{suffix}'");
        if (model["dropout"] is JsonValue dv && dv.GetValue<double>() > 0)
            throw TokenizerJson.Unsupported("BPE dropout");

        var vocabNode = model["vocab"] as JsonObject ?? throw new UnsupportedModelException("The tokenizer's BPE model has no \"vocab\".");
        var vocab = new Dictionary<string, int>(vocabNode.Count, StringComparer.Ordinal);
        foreach (var (token, id) in vocabNode) vocab[token] = id!.GetValue<int>();
        var added = new List<AddedToken>();
        foreach (var t in json["added_tokens"] as JsonArray ?? [])
        {
            added.Add(new AddedToken(
                t!["id"]!.GetValue<int>(), t["content"]!.GetValue<string>(), t["special"]?.GetValue<bool>() ?? false,
                t["normalized"]?.GetValue<bool>() ?? !(t["special"]?.GetValue<bool>() ?? false),
                t["lstrip"]?.GetValue<bool>() ?? false, t["rstrip"]?.GetValue<bool>() ?? false, t["single_word"]?.GetValue<bool>() ?? false));
        }
        // Ids index the model's embedding rows: they must be small non-negative numbers, not scattered far apart.
        var ids = vocab.Values.Concat(added.Select(t => t.Id)).ToList();
        if (ids.Count == 0) throw new UnsupportedModelException("The tokenizer's vocabulary is empty.");
        if (ids.Min() < 0 || ids.Max() >= 2 * ids.Count + 1024)
            throw new UnsupportedModelException($"The tokenizer's token ids run from {ids.Min()} to {ids.Max()} for {ids.Count} tokens; ids must be numbered from 0 without large gaps.");

        var merges = new List<(string, string)>();
        foreach (var m in model["merges"] as JsonArray ?? [])
        {
            if (m is JsonArray pair && pair.Count == 2) { merges.Add((pair[0]!.GetValue<string>(), pair[1]!.GetValue<string>())); continue; }
            var line = m!.GetValue<string>();
            var parts = line.Split(' ');
            if (parts.Length != 2) throw new UnsupportedModelException($"The tokenizer merge \"{line}\" is not two tokens separated by one space.");
            merges.Add((parts[0], parts[1]));
        }

        var bpe = new BpeModel(vocab, merges, model["unk_token"]?.GetValue<string>(), model["fuse_unk"]?.GetValue<bool>() ?? false,
            model["byte_fallback"]?.GetValue<bool>() ?? false, model["ignore_merges"]?.GetValue<bool>() ?? false);
        var normalizer = Normalizer.Parse(json["normalizer"]);
        var preTokenizer = PreTokenizer.Parse(json["pre_tokenizer"]);
        var decoder = Decoder.Parse(json["decoder"]);

        var allIds = new Dictionary<string, int>(vocab, StringComparer.Ordinal);
        foreach (var t in added) allIds[t.Content] = t.Id;
        var postProcessor = PostProcessor.Parse(json["post_processor"], name => allIds[name]);

        int? Find(string configKey, string[] names, Func<int?>? fromTemplate = null)
        {
            var configured = tokenizerConfig?[configKey] switch
            {
                JsonValue v when v.TryGetValue<string>(out var s) => s,
                JsonObject o => o["content"]?.GetValue<string>(),
                _ => null,
            };
            if (configured is not null && allIds.TryGetValue(configured, out var cid)) return cid;
            if (fromTemplate?.Invoke() is { } tid) return tid;
            foreach (var name in names)
                if (allIds.TryGetValue(name, out var id)) return id;
            return null;
        }
        int? TemplateBos() => postProcessor is TemplatePostProcessor tp && tp.Template.Count > 1 && tp.Template[0] is [var first] ? first : null;

        return new HfTokenizer(json, vocab, added, normalizer, preTokenizer, bpe, postProcessor, decoder,
            Find("bos_token", BosNames, TemplateBos), Find("eos_token", EosNames), Find("pad_token", PadNames));
    }
}
