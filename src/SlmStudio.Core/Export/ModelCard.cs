using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using SlmStudio.Core.Artifacts;
using SlmStudio.Core.Models;

namespace SlmStudio.Core.Export;

/// <summary>The human-readable README.md of an artifact: what the model is, what it learned from, how well it does,
/// how faithfully the ONNX file reproduces it, and how to run it elsewhere.</summary>
public static class ModelCard
{
    /// <summary>Settings whose values are paths on the machine that trained the model: meaningless to whoever receives
    /// the folder, and not theirs to see.</summary>
    private static readonly HashSet<string> ServerPaths = new(StringComparer.OrdinalIgnoreCase) { "dataPath", "runDirectory", "baseModel" };

    /// <summary>Plain characters in values ("+00:00", not "\u002B00:00"): the card is read by people, not parsed.</summary>
    private static readonly JsonSerializerOptions Readable = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public const string CardFile = "README.md";

    /// <summary>
    /// Gives an exported artifact's card the title people know it by ("Kettle Co support — version 3"), which only the
    /// registry knows (version numbers are given out at registration), and records the card's new hash in the
    /// manifest so the folder still verifies. Only the first heading changes.
    /// </summary>
    public static void Retitle(string artifactDir, string title)
    {
        var manifest = ArtifactManifest.Load(artifactDir);
        if (manifest.Files.All(f => f.Path != CardFile)) return;
        manifest.VerifyFile(artifactDir, CardFile); // never re-seal a card that was changed after export
        var path = Path.Combine(artifactDir, CardFile);
        var lines = File.ReadAllLines(path);
        var heading = Array.FindIndex(lines, l => l.StartsWith("# ", StringComparison.Ordinal));
        if (heading < 0) return;
        lines[heading] = "# " + title.ReplaceLineEndings(" ").Trim();
        AtomicFile.WriteAllText(path, string.Join('\n', lines) + "\n");
        var files = manifest.Files.Select(f => f.Path == CardFile ? ArtifactManifest.Describe(artifactDir, [CardFile])[0] : f).ToList();
        (manifest with { Files = files }).Save(artifactDir);
    }

    /// <param name="name">The folder's name; the title when <paramref name="title"/> is not given and the name says something.</param>
    /// <param name="bosId">The beginning-of-text id when the tokenizer prepends it to every text (onnxruntime-genai's tokenizer does not, so the card shows how to add it).</param>
    /// <param name="quantization">The quality check of a quantised export (its logits differ from the training model's by design).</param>
    /// <param name="title">The model's name for people, such as "Kettle Co support — version 3"; callers that know it pass it.</param>
    /// <param name="baseModel">The base model a fine-tuned model started from.</param>
    /// <param name="adapter">The artifact's folder with the LoRA adapter in PEFT's layout, when it was fine-tuned with one.</param>
    public static string Write(LlamaConfig config, ParityReport parity, ArtifactSource source, JsonObject? run, IReadOnlyDictionary<string, double>? metrics, string name, int? bosId = null,
        QuantizationReport? quantization = null, string? title = null, Library.BaseModelLineage? baseModel = null, string? adapter = null)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(inv, $"# {title ?? TitleFrom(name, source)}");
        sb.AppendLine();
        sb.AppendLine(string.Create(inv, $"A small Llama-family causal language model ({config.ParameterCount:N0} parameters) exported by SLM Studio. ") +
                           "This folder is self-contained: it runs with ONNX Runtime, onnxruntime-genai or Hugging Face transformers, without SLM Studio.");
        sb.AppendLine();

        sb.AppendLine("## How to use this (no programming needed)");
        sb.AppendLine();
        sb.AppendLine("- **Try it:** in SLM Studio, open **Models** and choose **Try** next to this version, or open the **Playground**, type the start of a text and let the model continue it.");
        sb.AppendLine("- **Share it:** send this whole folder (or the zip it came in) to your IT team; everything the model needs is inside, and `manifest.json` lets them check nothing was changed.");
        sb.AppendLine("- **Put it to work:** your IT team can run it on a server or a laptop with the short programs under \"Run it in C#\" or \"Run it in Python\" below; no internet connection is needed.");
        sb.AppendLine("- **Check its output:** a small model writes fluent text that can be wrong. Have a person read what it writes before it is sent to anyone.");
        sb.AppendLine();

        sb.AppendLine("## What it was trained on");
        sb.AppendLine();
        if (source.Kind == "run")
        {
            sb.AppendLine(inv, $"- Training run: `{FileName(source.Path)}`");
            var data = source.Data is null ? "not recorded in run.json" : "`" + FileName(source.Data) + "`";
            sb.AppendLine(inv, $"- Training data: {data}");
            if (source.Preset is not null) sb.AppendLine(inv, $"- Size preset: {source.Preset}");
            if (baseModel is not null)
                sb.AppendLine(inv, $"- Fine-tuned from the base model **{baseModel.Name}**{(baseModel.Architecture is null ? "" : $" ({baseModel.Architecture})")}, whose weights have SHA-256 `{baseModel.WeightsSha256}`");
            if (adapter is not null)
                sb.AppendLine(inv, $"- Fine-tuned with LoRA adapters: the weights here have them merged in, and `{adapter}/` holds the adapter alone in PEFT's layout, to use with the original base model (`PeftModel.from_pretrained(base, \"{adapter}\")`)");
        }
        else sb.AppendLine(inv, $"- Imported Hugging Face model folder `{FileName(source.Path)}`; its training data is whatever its authors used (see their model card).");
        sb.AppendLine();

        if (run is not null && run.Count > 0)
        {
            sb.AppendLine("## Training settings");
            sb.AppendLine();
            sb.AppendLine("| Setting | Value |");
            sb.AppendLine("|---|---|");
            // run.json records the preset twice (the request and the resolved size); it is listed once, above when known.
            var shown = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            if (source.Kind == "run" && source.Preset is not null) shown.Add("preset");
            foreach (var (key, value) in run)
            {
                if (value is JsonValue) AppendSetting(sb, shown, key, value);
                else if (key == "options" && value is JsonObject options)
                    foreach (var (k, v) in options)
                        if (v is JsonValue) AppendSetting(sb, shown, k, v);
            }
            sb.AppendLine();
        }

        sb.AppendLine("## Metrics");
        sb.AppendLine();
        if (metrics is null || metrics.Count == 0) sb.AppendLine("No training metrics were recorded with this model (run `slm eval <this folder> --data <file>` to measure it).");
        else
        {
            sb.AppendLine("| Metric | Value |");
            sb.AppendLine("|---|---|");
            foreach (var (key, value) in metrics) sb.AppendLine(inv, $"| {Label(key)} | {value.ToString("G6", inv)} |");
        }
        sb.AppendLine();

        sb.AppendLine("## Architecture");
        sb.AppendLine();
        sb.AppendLine("| | |");
        sb.AppendLine("|---|---|");
        sb.AppendLine(inv, $"| Parameters | {config.ParameterCount:N0} |");
        sb.AppendLine(inv, $"| Layers | {config.NumLayers} |");
        sb.AppendLine(inv, $"| Hidden size | {config.HiddenSize} |");
        var gqa = config.NumKvHeads < config.NumHeads ? " (grouped-query attention)" : "";
        sb.AppendLine(inv, $"| Attention heads / key-value heads | {config.NumHeads} / {config.NumKvHeads}{gqa} |");
        sb.AppendLine(inv, $"| MLP size (SwiGLU) | {config.IntermediateSize} |");
        sb.AppendLine(inv, $"| Vocabulary | {config.VocabSize} |");
        sb.AppendLine(inv, $"| Context length | {config.MaxPositions} |");
        sb.AppendLine(inv, $"| Tied input/output embeddings | {(config.TieWordEmbeddings ? "yes" : "no")} |");
        sb.AppendLine();

        sb.AppendLine("## ONNX export and parity");
        sb.AppendLine();
        sb.AppendLine(string.Create(inv, $"`model.onnx` is a decoder with a KV cache, ONNX opset {LlamaOnnxGraph.Opset}, {(quantization is null ? "standard operators only, fp32" : "standard operators plus ONNX Runtime's com.microsoft.MatMulNBits for the quantised weights")}. ") +
                           "Inputs: `input_ids`, `attention_mask`, `position_ids` [batch, sequence] (int64), `past_key_values.{i}.key|value` " +
                           "[batch, kv_heads, past_sequence, head_dim]; outputs: `logits` [batch, sequence, vocab] and `present.{i}.key|value`.");
        sb.AppendLine();
        if (quantization is not null)
        {
            sb.AppendLine(string.Create(inv, $"Weights of the linear layers: **{quantization.Precision}** ({quantization.Bits}-bit blocks of {quantization.BlockSize} with a scale and zero point each, ONNX Runtime's `{quantization.Operator}`, accuracy level {quantization.AccuracyLevel}; final projection {(quantization.LmHeadQuantized ? "quantised" : "fp32")}; embedding fp32). ") +
                string.Create(inv, $"Quality check against the fp32 model on {quantization.EvaluationText} ({quantization.Tokens:N0} tokens): loss {quantization.Fp32Loss:F4} -> {quantization.QuantizedLoss:F4} ({Math.Round(quantization.LossIncreasePercent, 2) + 0.0:+0.00;-0.00}%, allowed {quantization.MaxLossIncreasePercent:0.#}%): **{(quantization.Passed ? "passed" : "FAILED")}**; ") +
                string.Create(inv, $"same most likely next token at {quantization.Top1Agreement:P1} of positions; greedy continuations {quantization.GreedyIdenticalTokens} of {quantization.GreedyTokens} tokens identical."));
            sb.AppendLine();
            sb.AppendLine("Logit difference from the fp32 training model (quantisation changes the logits by design, so the 1e-4 parity tolerance does not apply):");
        }
        else
            sb.AppendLine(string.Create(inv, $"Parity with the training model ({parity.Reference}), maximum absolute logit difference: ") +
                               string.Create(inv, $"**{(parity.Passed ? "passed" : "FAILED")}** (tolerance {parity.Tolerance:E0}); greedy continuation {(parity.GreedyMatches ? "identical" : "differs")}."));
        sb.AppendLine();
        sb.AppendLine("| Batch | Prompt tokens | Decode steps | Prefill max abs diff | Decode max abs diff |");
        sb.AppendLine("|---|---|---|---|---|");
        foreach (var c in parity.Cases)
            sb.AppendLine(inv, $"| {c.Batch} | {c.PromptLength} | {c.DecodeSteps} | {c.PrefillMaxAbsDiff:E2} | {c.DecodeMaxAbsDiff:E2} |");
        sb.AppendLine();
        sb.AppendLine("`manifest.json` lists the SHA-256 and size of every file; SLM Studio refuses to load a file that does not match.");
        sb.AppendLine();

        sb.AppendLine("## Run it in C#");
        sb.AppendLine();
        sb.AppendLine("With onnxruntime-genai (NuGet `Microsoft.ML.OnnxRuntimeGenAI`):");
        sb.AppendLine();
        sb.AppendLine("```csharp");
        sb.AppendLine("using Microsoft.ML.OnnxRuntimeGenAI;");
        sb.AppendLine();
        sb.AppendLine("using var model = new Model(\"path/to/this/folder\");");
        sb.AppendLine("using var tokenizer = new Tokenizer(model);");
        sb.AppendLine("using var parameters = new GeneratorParams(model);");
        sb.AppendLine("parameters.SetSearchOption(\"max_length\", 64);");
        sb.AppendLine("using var generator = new Generator(model, parameters);");
        sb.AppendLine("using var sequences = tokenizer.Encode(\"Once upon a time\");");
        if (bosId is { } bosC)
        {
            sb.AppendLine(inv, $"// onnxruntime-genai's tokenizer adds no beginning-of-text token; this model was trained with one (id {bosC}).");
            sb.AppendLine(inv, $"generator.AppendTokens([{bosC}, .. sequences[0]]);");
        }
        else sb.AppendLine("generator.AppendTokenSequences(sequences);");
        sb.AppendLine("while (!generator.IsDone()) generator.GenerateNextToken();");
        sb.AppendLine("Console.WriteLine(tokenizer.Decode(generator.GetSequence(0)));");
        sb.AppendLine("```");
        sb.AppendLine();
        sb.AppendLine("With plain ONNX Runtime (NuGet `Microsoft.ML.OnnxRuntime`): create one `InferenceSession(\"model.onnx\")`, feed `input_ids`, " +
                      "an all-ones `attention_mask` of past + new length, `position_ids` counting from the past length, and empty " +
                      "`past_key_values.*` tensors of shape [batch, kv_heads, 0, head_dim] for the first call; feed each call's `present.*` back as the next `past_key_values.*`.");
        sb.AppendLine();
        sb.AppendLine("With SLM Studio's engine: `slm generate <this folder> --prompt \"...\"`, or `OnnxArtifact.Open(folder)` and `new TextGenerator(artifact).GenerateAsync(...)`.");
        sb.AppendLine();

        sb.AppendLine("## Run it in Python");
        sb.AppendLine();
        sb.AppendLine("onnxruntime-genai (`pip install onnxruntime-genai`):");
        sb.AppendLine();
        sb.AppendLine("```python");
        sb.AppendLine("import onnxruntime_genai as og");
        sb.AppendLine("model = og.Model(\"path/to/this/folder\")");
        sb.AppendLine("tokenizer = og.Tokenizer(model)");
        sb.AppendLine("params = og.GeneratorParams(model)");
        sb.AppendLine("params.set_search_options(max_length=64)");
        sb.AppendLine("generator = og.Generator(model, params)");
        if (bosId is { } bosP)
        {
            sb.AppendLine(inv, $"# onnxruntime-genai's tokenizer adds no beginning-of-text token; this model was trained with one (id {bosP}).");
            sb.AppendLine(inv, $"generator.append_tokens([{bosP}] + list(tokenizer.encode(\"Once upon a time\")))");
        }
        else sb.AppendLine("generator.append_tokens(tokenizer.encode(\"Once upon a time\"))");
        sb.AppendLine("while not generator.is_done():");
        sb.AppendLine("    generator.generate_next_token()");
        sb.AppendLine("print(tokenizer.decode(generator.get_sequence(0)))");
        sb.AppendLine("```");
        sb.AppendLine();
        sb.AppendLine("Hugging Face transformers (`config.json`, `model.safetensors`, `tokenizer.json` are in the standard format):");
        sb.AppendLine();
        sb.AppendLine("```python");
        sb.AppendLine("from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast");
        sb.AppendLine("model = AutoModelForCausalLM.from_pretrained(\"path/to/this/folder\")");
        sb.AppendLine("tokenizer = PreTrainedTokenizerFast(tokenizer_file=\"path/to/this/folder/tokenizer.json\")");
        sb.AppendLine("ids = tokenizer(\"Once upon a time\", return_tensors=\"pt\").input_ids");
        sb.AppendLine("print(tokenizer.decode(model.generate(ids, max_new_tokens=40, do_sample=False)[0]))");
        sb.AppendLine("```");
        return sb.ToString();
    }

    private static void AppendSetting(StringBuilder sb, HashSet<string> shown, string key, JsonNode value)
    {
        if (!shown.Add(key) || ServerPaths.Contains(key)) return;
        var text = value.ToJsonString(Readable).Trim('"');
        // "auto" is the request; the device actually used is shown where the run was trained (CPU or GPU).
        if (key == "device" && text == "auto") text = "auto (the GPU when one was available, else the CPU)";
        sb.AppendLine(CultureInfo.InvariantCulture, $"| {key} | {text} |");
    }

    /// <summary>The last part of a path: a file or folder name says what it was without revealing the server's layout.</summary>
    private static string FileName(string path) => Path.GetFileName(path.TrimEnd('/', '\\')) is { Length: > 0 } n ? n : path;

    /// <summary>A folder name like "export" says nothing; then the title says what the model is.</summary>
    private static string TitleFrom(string name, ArtifactSource source) =>
        name is "" or "export" or "artifact" or "model"
            ? source.Preset is { } preset ? $"SLM Studio model ({preset} size)" : "SLM Studio model"
            : name;

    private static string Label(string key) => key switch
    {
        "bestValLoss" => "Best validation loss (nats/token)",
        "valLoss" => "Validation loss (nats/token)",
        "perplexity" => "Perplexity",
        "bitsPerChar" => "Bits per character",
        "step" => "Training steps",
        _ => key,
    };
}
