using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using SlmStudio.Core.Artifacts;
using SlmStudio.Core.Classification;
using SlmStudio.Core.Inference;
using SlmStudio.Core.Models;
using SlmStudio.Core.Tokenization;
using static TorchSharp.torch;

namespace SlmStudio.Core.Export;

/// <summary>
/// Exports a classification run (its classifier/ folder) or a classifier folder to a self-contained artifact:
/// model.onnx (<see cref="ClassifierOnnxGraph"/>), labels.json, tokenizer.json + tokenizer_config.json, config.json +
/// model.safetensors, README.md (with a C# snippet) and manifest.json (task "classify"). ONNX Runtime's probabilities
/// are checked against TorchSharp's on a few texts, a padded batch included. Assembled beside the target and moved
/// into place at the end, so a failure leaves nothing behind.
/// </summary>
public static class ClassifierExporter
{
    /// <summary>True when <paramref name="folder"/> is a classification run or a classifier folder.</summary>
    public static bool IsClassifierSource(string folder) =>
        Directory.Exists(folder) && (ClassificationRunFolder.IsClassificationRun(folder) || File.Exists(Path.Combine(folder, ClassifierFolder.LabelsFile)));

    public static ExportResult Export(string sourceFolder, string artifactDir, IProgress<string>? progress = null, CancellationToken ct = default)
    {
        var clock = Stopwatch.StartNew();
        var (kind, classifierDir, result, texts) = ResolveSource(sourceFolder);
        var target = Path.GetFullPath(artifactDir);
        if (File.Exists(target)) throw new EngineException($"{artifactDir} is a file; give a folder for the exported model.");
        if (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any())
            throw new EngineException($"The folder {artifactDir} already exists and is not empty; choose a new folder (artifacts are never overwritten).");

        progress?.Report($"Reading {classifierDir}");
        var tokenizerPath = Path.Combine(classifierDir, ModelFolder.TokenizerFile);
        if (!File.Exists(tokenizerPath)) throw new EngineException($"{classifierDir} has no {ModelFolder.TokenizerFile}; the exported classifier would be unusable without its tokenizer.");
        var tokenizer = TokenizerFile.Load(tokenizerPath);
        var labels = ClassifierLabels.Load(Path.Combine(classifierDir, ClassifierFolder.LabelsFile));
        using var model = ClassifierFolder.Load(classifierDir);
        var config = model.Config;
        var weights = SafetensorsFile.Read(Path.Combine(classifierDir, ModelFolder.WeightsFile));
        ct.ThrowIfCancellationRequested();

        var parent = Path.GetDirectoryName(target)!;
        Directory.CreateDirectory(parent);
        var staging = Path.Combine(parent, $".{Path.GetFileName(target)}.export-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            progress?.Report($"Building the ONNX classifier graph (opset {LlamaOnnxGraph.Opset}, {config.NumLayers} layers, {labels.Labels.Count} labels)");
            var onnxPath = Path.Combine(staging, ModelExporter.OnnxFile);
            var files = new List<string>(OnnxModelWriter.Write(
                ClassifierOnnxGraph.Build(config, labels.Labels, labels.Pooling, weights, typeof(ClassifierExporter).Assembly.GetName().Version?.ToString() ?? "1", labels.PairBuckets ?? 0, labels.BackboneBound ?? 0, labels.Temperature ?? 1), onnxPath));
            foreach (var name in new[] { ModelFolder.ConfigFile, ModelFolder.WeightsFile, ModelFolder.TokenizerFile, ClassifierFolder.LabelsFile })
                File.Copy(Path.Combine(classifierDir, name), Path.Combine(staging, name));
            tokenizer.SaveTokenizerConfig(Path.Combine(staging, "tokenizer_config.json"), labels.TokenLimit(config.MaxPositions));
            files.AddRange([ModelFolder.ConfigFile, ModelFolder.WeightsFile, ModelFolder.TokenizerFile, ClassifierFolder.LabelsFile, "tokenizer_config.json"]);
            // A classifier trained with LoRA keeps its adapter (PEFT layout, head included) for use with the original base
            // elsewhere; the weights above already have it merged in.
            var adapterFiles = CopyAdapter(classifierDir, staging);
            files.AddRange(adapterFiles);
            var baseModel = kind == "run" ? Library.BaseModelLineage.Read(ClassificationRunFolder.At(sourceFolder).AsRun.BaseModelFile) : null;
            ct.ThrowIfCancellationRequested();

            progress?.Report("Checking parity: ONNX Runtime against TorchSharp (single texts and a padded batch)");
            var parityClock = Stopwatch.StartNew();
            ParityReport parity;
            using (var onnx = files.Contains(ModelExporter.OnnxFile + ".data")
                       ? throw new EngineException("This classifier is too large for a single ONNX file; classifiers with external weight data are not supported yet.")
                       : OnnxClassifier.Load(File.ReadAllBytes(onnxPath), config, tokenizer, labels))
                parity = CheckParity(model, onnx, texts);
            parityClock.Stop();
            progress?.Report(parity.Passed
                ? $"Parity passed: max abs probability difference {parity.PrefillMaxAbsDiff:E2} <= {parity.Tolerance:E0}; top labels identical"
                : $"Parity FAILED: max abs probability difference {parity.PrefillMaxAbsDiff:E2} (tolerance {parity.Tolerance:E0}); top labels {(parity.GreedyMatches ? "identical" : "differ")}");

            var metrics = ReadMetrics(result);
            var source = new ArtifactSource(kind, Path.GetFullPath(sourceFolder));
            File.WriteAllText(Path.Combine(staging, "README.md"), ModelCardText(config, labels, parity, source, metrics, Path.GetFileName(target), baseModel, adapterFiles.Count > 0));
            files.Add("README.md");

            var manifest = new ArtifactManifest
            {
                CreatedUtc = DateTimeOffset.UtcNow,
                Task = OnnxClassifier.Task,
                Opset = LlamaOnnxGraph.Opset,
                OnnxModel = ModelExporter.OnnxFile,
                Parameters = model.parameters().Sum(p => p.numel()),
                ContextLength = labels.TokenLimit(config.MaxPositions),
                Source = source,
                Metrics = metrics,
                Parity = parity,
                BaseModel = baseModel,
                Adapter = adapterFiles.Count > 0 ? LoraAdapters.FolderName : null,
                Files = ArtifactManifest.Describe(staging, files),
            };
            manifest.Save(staging);
            ct.ThrowIfCancellationRequested();

            if (Directory.Exists(target)) Directory.Delete(target); // empty, checked above
            Directory.Move(staging, target);
            clock.Stop();
            progress?.Report($"Exported to {target} in {clock.Elapsed.TotalSeconds:F1} s");
            return new ExportResult(target, parity, parity.Passed, clock.Elapsed, parityClock.Elapsed, manifest.Files);
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>
    /// Probabilities of ONNX Runtime against TorchSharp (fp32, max abs difference) for each text alone and for all of
    /// them in one right-padded batch, and whether the top label agrees everywhere. Reported in the parity record's
    /// terms: the full forward pass is the "prefill", there is no decoding, and "greedy matches" means the top labels agree.
    /// </summary>
    public static ParityReport CheckParity(LlamaForSequenceClassification model, OnnxClassifier onnx, IReadOnlyList<string> texts, int seed = 1234)
    {
        var sequences = new List<int[]>(onnx.Encode(texts));
        // Random ids as well: they reach every part of the vocabulary and lengths up to the token limit.
        var random = new Random(seed);
        foreach (var length in new[] { 1, Math.Min(17, onnx.MaxTokens), Math.Min(40, onnx.MaxTokens) })
            sequences.Add([.. Enumerable.Range(0, length).Select(_ => random.Next(model.Config.VocabSize))]);

        var cases = new List<ParityCase>();
        var topAgrees = true;
        double Compare(IReadOnlyList<int[]> batch)
        {
            var expected = ClassifierTrainer.PredictProbabilities(model, batch, batchSize: batch.Count, padId: onnx.Tokenizer.PadId ?? 0);
            var actual = onnx.RunPadded(batch);
            double diff = 0;
            for (int r = 0; r < batch.Count; r++)
            {
                for (int i = 0; i < expected[r].Length; i++) diff = Math.Max(diff, Math.Abs(expected[r][i] - actual[r][i]));
                if (ArgMax(expected[r]) != ArgMax(actual[r])) topAgrees = false;
            }
            if (double.IsNaN(diff)) diff = double.PositiveInfinity;
            cases.Add(new ParityCase(batch.Count, batch.Max(s => s.Length), 0, diff, 0));
            return diff;
        }
        using (no_grad())
        {
            foreach (var s in sequences) Compare([s]);
            Compare(sequences); // one batch of different lengths: the padding must not change any text's answer
        }
        var max = cases.Max(c => c.PrefillMaxAbsDiff);
        return new ParityReport("TorchSharp LlamaForSequenceClassification probabilities (fp32, CPU)", OnnxParity.Tolerance, max, 0, topAgrees,
            max <= OnnxParity.Tolerance && topAgrees, cases);
    }

    private static int ArgMax(float[] row)
    {
        int best = 0;
        for (int i = 1; i < row.Length; i++) if (row[i] > row[best]) best = i;
        return best;
    }

    private static (string Kind, string ClassifierDir, JsonObject? Result, IReadOnlyList<string> Texts) ResolveSource(string folder)
    {
        if (!Directory.Exists(folder)) throw new EngineException($"The folder {folder} does not exist; give a classification run folder.");
        if (File.Exists(Path.Combine(folder, ClassifierFolder.LabelsFile))) return ("classifier", folder, null, []);
        var run = ClassificationRunFolder.At(folder);
        if (!File.Exists(Path.Combine(run.ClassifierDirectory, ClassifierFolder.LabelsFile)))
            throw new EngineException($"{folder} is a classification run without a finished classifier (no classifier/labels.json yet); wait until training has finished, then export.");
        JsonObject? result = null;
        try { if (File.Exists(run.ResultFile)) result = JsonNode.Parse(File.ReadAllText(run.ResultFile)) as JsonObject; }
        catch (JsonException) { } // the card then lacks the figures
        var texts = new List<string>();
        if (File.Exists(run.ValidationDataFile))
            foreach (var line in File.ReadLines(run.ValidationDataFile).Take(4))
                try { if (JsonNode.Parse(line)?["text"]?.GetValue<string>() is { } t) texts.Add(t); }
                catch (JsonException) { }
        return ("run", run.ClassifierDirectory, result, texts);
    }

    private static Dictionary<string, double>? ReadMetrics(JsonObject? result)
    {
        if (result is null) return null;
        var metrics = new Dictionary<string, double>();
        foreach (var name in new[] { "accuracy", "macroF1", "baselineAccuracy", "baselineMacroF1", "steps" })
            if (result[name] is JsonValue v && v.TryGetValue<double>(out var d)) metrics[name] = d;
        return metrics.Count > 0 ? metrics : null;
    }

    /// <summary>The PEFT adapter of a classifier trained with LoRA (classifier/adapter/), when there is one: the files copied.</summary>
    private static IReadOnlyList<string> CopyAdapter(string classifierDir, string staging)
    {
        var adapterDir = Path.Combine(classifierDir, LoraAdapters.FolderName);
        string[] names = [LoraAdapters.AdapterConfigFile, LoraAdapters.AdapterWeightsFile];
        if (!names.All(n => File.Exists(Path.Combine(adapterDir, n)))) return [];
        Directory.CreateDirectory(Path.Combine(staging, LoraAdapters.FolderName));
        foreach (var n in names) File.Copy(Path.Combine(adapterDir, n), Path.Combine(staging, LoraAdapters.FolderName, n));
        return [.. names.Select(n => $"{LoraAdapters.FolderName}/{n}")];
    }

    private static string ModelCardText(LlamaConfig config, ClassifierLabels labels, ParityReport parity, ArtifactSource source, IReadOnlyDictionary<string, double>? metrics, string name,
        Library.BaseModelLineage? baseModel, bool hasAdapter)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(inv, $"# {name}");
        sb.AppendLine();
        sb.AppendLine(string.Create(inv, $"A text classifier exported by SLM Studio: a small Llama-family model ({config.NumLayers} layers, hidden size {config.HiddenSize}) with a classification head over {labels.Labels.Count} labels. ") +
                           "This folder is self-contained: it runs with ONNX Runtime, without SLM Studio.");
        sb.AppendLine();
        sb.AppendLine(inv, $"Labels (in the order of the output): {string.Join(", ", labels.Labels.Select(l => $"`{l}`"))}.");
        sb.AppendLine();
        sb.AppendLine(inv, $"Source: `{source.Path}` ({source.Kind}).");
        sb.AppendLine();
        if (baseModel is not null)
        {
            sb.AppendLine(inv, $"Fine-tuned from the base model `{baseModel.Name}`{(baseModel.Architecture is null ? "" : $" ({baseModel.Architecture})")}, weights SHA-256 `{baseModel.WeightsSha256}`.");
            sb.AppendLine();
        }
        if (hasAdapter)
        {
            sb.AppendLine(inv, $"Trained with LoRA: the adapter alone, with the classification head, is in `{LoraAdapters.FolderName}/` in PEFT's layout (task type SEQ_CLS), to apply to the original base model elsewhere. The weights of this folder have it merged in.");
            sb.AppendLine();
        }
        sb.AppendLine("## How well it does");
        sb.AppendLine();
        if (metrics is { Count: > 0 } && metrics.TryGetValue("accuracy", out var accuracy))
        {
            sb.AppendLine("On the held-out validation texts of its training data:");
            sb.AppendLine();
            sb.AppendLine("| Model | Accuracy | Macro-F1 |");
            sb.AppendLine("|---|---|---|");
            sb.AppendLine(inv, $"| This model | {accuracy:P1} | {metrics.GetValueOrDefault("macroF1"):0.000} |");
            if (metrics.TryGetValue("baselineAccuracy", out var baseline))
                sb.AppendLine(inv, $"| A simple keyword model (TF-IDF + linear, ML.NET) | {baseline:P1} | {metrics.GetValueOrDefault("baselineMacroF1"):0.000} |");
        }
        else sb.AppendLine("No figures were recorded with this classifier. Measure it with `slm eval <this folder> --data test.csv --text-column C --label-column L`.");
        sb.AppendLine();
        sb.AppendLine("## The ONNX graph");
        sb.AppendLine();
        sb.AppendLine(string.Create(inv, $"`model.onnx`, ONNX opset {LlamaOnnxGraph.Opset}, standard operators only, fp32, no KV cache. Inputs: `input_ids` and `attention_mask`, int64 [batch, sequence], ") +
                           "texts padded on the right (mask 1 on text, 0 on padding). Output: `probabilities`, float [batch, labels], in the order of `labels.json`. " +
                           string.Create(inv, $"Texts are read up to {labels.TokenLimit(config.MaxPositions)} tokens, without beginning-of-text token ({labels.Pooling} pooling over the text's tokens).") +
                           (labels.PairBuckets is > 0 ? string.Create(inv, $" Word scores are added to the head's output inside the graph: the mean per-label score of the text's tokens and of its pairs of neighbouring tokens (hashed into {labels.PairBuckets} buckets).") : "") +
                           (labels.BackboneBound is > 0 ? string.Create(inv, $" The head's logits are bounded to ±{labels.BackboneBound} ({labels.BackboneBound} × tanh(logit / {labels.BackboneBound})) before the word scores are added.") : "") +
                           (labels.Temperature is { } t && t != 1 ? string.Create(inv, $" The logits are divided by {t:0.###} before the softmax (fitted on the validation texts, so that the probabilities match how often the model is right).") : ""));
        sb.AppendLine();
        sb.AppendLine(string.Create(inv, $"Parity with the training model ({parity.Reference}): **{(parity.Passed ? "passed" : "FAILED")}**, maximum absolute probability difference {parity.PrefillMaxAbsDiff:E2} ") +
                           string.Create(inv, $"(tolerance {parity.Tolerance:E0}) over {parity.Cases.Count} checks (single texts and one padded batch); top labels {(parity.GreedyMatches ? "identical" : "differ")}."));
        sb.AppendLine();
        sb.AppendLine("`manifest.json` lists the SHA-256 and size of every file; SLM Studio refuses to load a file that does not match.");
        sb.AppendLine();
        sb.AppendLine("## Run it in C#");
        sb.AppendLine();
        sb.AppendLine("With ONNX Runtime (NuGet `Microsoft.ML.OnnxRuntime`); prints the top label. `Tokenize` stands for the tokenizer in `tokenizer.json` " +
                      "(a Hugging Face byte-level BPE: any library that reads tokenizer.json, or SLM Studio's `TokenizerFile.Load(path).Encode(text)`):");
        sb.AppendLine();
        sb.AppendLine("```csharp");
        sb.AppendLine("using System.Text.Json;");
        sb.AppendLine("using Microsoft.ML.OnnxRuntime;");
        sb.AppendLine("using Microsoft.ML.OnnxRuntime.Tensors;");
        sb.AppendLine();
        sb.AppendLine("var folder = \"path/to/this/folder\";");
        sb.AppendLine("var labels = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, \"labels.json\"))).RootElement.GetProperty(\"labels\").EnumerateArray().Select(l => l.GetString()!).ToArray();");
        sb.AppendLine("// The text's token ids from tokenizer.json, without a beginning-of-text token.");
        sb.AppendLine("long[] ids = Tokenize(\"My parcel never arrived\");");
        sb.AppendLine("using var session = new InferenceSession(Path.Combine(folder, \"model.onnx\"));");
        sb.AppendLine("var inputs = new[]");
        sb.AppendLine("{");
        sb.AppendLine("    NamedOnnxValue.CreateFromTensor(\"input_ids\", new DenseTensor<long>(ids, [1, ids.Length])),");
        sb.AppendLine("    NamedOnnxValue.CreateFromTensor(\"attention_mask\", new DenseTensor<long>(Enumerable.Repeat(1L, ids.Length).ToArray(), [1, ids.Length])),");
        sb.AppendLine("};");
        sb.AppendLine("using var results = session.Run(inputs);");
        sb.AppendLine("var probabilities = results.First(r => r.Name == \"probabilities\").AsEnumerable<float>().ToArray();");
        sb.AppendLine("var top = Array.IndexOf(probabilities, probabilities.Max());");
        sb.AppendLine("Console.WriteLine($\"{labels[top]} ({probabilities[top]:P0})\");");
        sb.AppendLine("```");
        sb.AppendLine();
        sb.AppendLine("With SLM Studio: `slm classify <this folder> --text \"...\"`, `slm classify <this folder> --file in.csv --text-column C --out predictions.csv`, " +
                      "or in C# `using var classifier = OnnxClassifier.Open(folder); classifier.Classify([\"...\"])`.");
        return sb.ToString();
    }
}
