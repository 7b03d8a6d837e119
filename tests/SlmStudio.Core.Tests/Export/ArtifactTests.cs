using System.Security.Cryptography;
using System.Text.Json;
using SlmStudio.Core.Artifacts;
using SlmStudio.Core.Export;
using SlmStudio.Core.Inference;
using SlmStudio.Core.Models;

namespace SlmStudio.Core.Tests.Export;

/// <summary>The artifact folder: what it holds, its manifest, and how damaged or missing artifacts are refused.</summary>
public sealed class ArtifactTests(OnnxTestModels.TinyArtifact tiny) : IClassFixture<OnnxTestModels.TinyArtifact>
{
    [Fact]
    public void ArtifactHoldsEveryFileWithCorrectHashesAndParity()
    {
        var expected = new[] { "model.onnx", "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "genai_config.json", "README.md" };
        var manifest = ArtifactManifest.Load(tiny.ArtifactDir);
        Assert.Equal(expected.Order(), manifest.Files.Select(f => f.Path).Order());
        foreach (var f in manifest.Files)
        {
            var bytes = File.ReadAllBytes(Path.Combine(tiny.ArtifactDir, f.Path));
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), f.Sha256);
            Assert.Equal(bytes.LongLength, f.Bytes);
        }
        Assert.Equal(LlamaOnnxGraph.Opset, manifest.Opset);
        Assert.NotNull(manifest.Parity);
        Assert.True(manifest.Parity!.Passed);
        Assert.True(manifest.Parity.PrefillMaxAbsDiff <= 1e-4 && manifest.Parity.DecodeMaxAbsDiff <= 1e-4);
        Assert.Equal(tiny.Result.Parity.PrefillMaxAbsDiff, manifest.Parity.PrefillMaxAbsDiff);

        // The raw JSON uses the documented names.
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(tiny.ArtifactDir, "manifest.json")));
        var first = doc.RootElement.GetProperty("files")[0];
        Assert.True(first.TryGetProperty("path", out _) && first.TryGetProperty("sha256", out _) && first.TryGetProperty("bytes", out _));
        Assert.Equal(LlamaOnnxGraph.Opset, doc.RootElement.GetProperty("opset").GetInt32());

        // HF files are the source's, byte for byte.
        Assert.Equal(File.ReadAllBytes(Path.Combine(tiny.ModelDir, "model.safetensors")), File.ReadAllBytes(Path.Combine(tiny.ArtifactDir, "model.safetensors")));
        var card = File.ReadAllText(Path.Combine(tiny.ArtifactDir, "README.md"));
        Assert.Contains("passed", card);
        Assert.Contains("onnxruntime_genai", card);
        Assert.Contains("AutoModelForCausalLM", card);
        using var genai = JsonDocument.Parse(File.ReadAllText(Path.Combine(tiny.ArtifactDir, "genai_config.json")));
        var decoder = genai.RootElement.GetProperty("model").GetProperty("decoder");
        Assert.Equal(tiny.Config.NumKvHeads, decoder.GetProperty("num_key_value_heads").GetInt32());
        Assert.Equal("model.onnx", decoder.GetProperty("filename").GetString());
    }

    [Fact]
    public void OnnxGraphHasGenaiNamesAndDynamicAxes()
    {
        var model = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(tiny.ArtifactDir, "model.onnx")));
        var inputs = model.Graph.Input.Select(i => i.Name).ToList();
        Assert.Equal(["input_ids", "attention_mask", "position_ids", "past_key_values.0.key", "past_key_values.0.value", "past_key_values.1.key", "past_key_values.1.value"], inputs);
        Assert.Equal(["logits", "present.0.key", "present.0.value", "present.1.key", "present.1.value"], model.Graph.Output.Select(o => o.Name));
        var pastDims = model.Graph.Input[3].Type.TensorType.Shape.Dim;
        Assert.Equal("batch_size", pastDims[0].DimParam);
        Assert.Equal(tiny.Config.NumKvHeads, pastDims[1].DimValue);
        Assert.Equal("past_sequence_length", pastDims[2].DimParam);
        Assert.Equal(tiny.Config.HeadDim, pastDims[3].DimValue);
        Assert.All(model.Graph.Node, n => Assert.Equal("", n.Domain)); // standard operators only
        Assert.Equal(LlamaOnnxGraph.Opset, model.OpsetImport.Single().Version);
    }

    [Fact]
    public void TamperedModelFileIsRefused()
    {
        var copy = tiny.CopyArtifact();
        var path = Path.Combine(copy, "model.onnx");
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x01;
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidModelFileException>(() => OnnxArtifact.Open(copy));
        Assert.Contains("model.onnx does not match manifest.json", e.Message);
    }

    [Fact]
    public void TamperedTokenizerIsRefused()
    {
        var copy = tiny.CopyArtifact();
        File.AppendAllText(Path.Combine(copy, "tokenizer.json"), " ");
        var e = Assert.Throws<InvalidModelFileException>(() => OnnxArtifact.Open(copy));
        Assert.Contains("tokenizer.json does not match manifest.json", e.Message);
    }

    [Fact]
    public void MissingOrMalformedArtifactGetsClearErrors()
    {
        var missing = Path.Combine(tiny.Root, "does-not-exist");
        Assert.Contains("does not exist", Assert.Throws<InvalidModelFileException>(() => OnnxArtifact.Open(missing)).Message);

        var empty = Directory.CreateDirectory(Path.Combine(tiny.Root, "empty-" + Guid.NewGuid().ToString("N"))).FullName;
        Assert.Contains("no manifest.json", Assert.Throws<InvalidModelFileException>(() => OnnxArtifact.Open(empty)).Message);

        var malformed = tiny.CopyArtifact();
        File.WriteAllText(Path.Combine(malformed, "manifest.json"), "{ not json");
        Assert.Contains("damaged", Assert.Throws<InvalidModelFileException>(() => OnnxArtifact.Open(malformed)).Message);

        var noFiles = tiny.CopyArtifact();
        File.WriteAllText(Path.Combine(noFiles, "manifest.json"), "{\"files\":[]}");
        Assert.Contains("does not list", Assert.Throws<InvalidModelFileException>(() => OnnxArtifact.Open(noFiles)).Message);

        var withoutModel = tiny.CopyArtifact();
        File.Delete(Path.Combine(withoutModel, "model.onnx"));
        Assert.Contains("model.onnx is missing", Assert.Throws<InvalidModelFileException>(() => OnnxArtifact.Open(withoutModel)).Message);
    }

    [Fact]
    public void ExportRefusesBadSourcesAndNonEmptyTargets()
    {
        var nowhere = Path.Combine(tiny.Root, "nowhere");
        Assert.Contains("does not exist", Assert.Throws<EngineException>(() => ModelExporter.Export(nowhere, Path.Combine(tiny.Root, "x1"))).Message);

        var notAModel = Directory.CreateDirectory(Path.Combine(tiny.Root, "not-a-model")).FullName;
        File.WriteAllText(Path.Combine(notAModel, "notes.txt"), "hello");
        Assert.Contains("neither a training run folder", Assert.Throws<EngineException>(() => ModelExporter.Export(notAModel, Path.Combine(tiny.Root, "x2"))).Message);

        var noTokenizer = Directory.CreateDirectory(Path.Combine(tiny.Root, "no-tokenizer")).FullName;
        File.Copy(Path.Combine(tiny.ModelDir, "config.json"), Path.Combine(noTokenizer, "config.json"));
        File.Copy(Path.Combine(tiny.ModelDir, "model.safetensors"), Path.Combine(noTokenizer, "model.safetensors"));
        Assert.Contains("no tokenizer.json", Assert.Throws<EngineException>(() => ModelExporter.Export(noTokenizer, Path.Combine(tiny.Root, "x3"))).Message);

        // The existing artifact is never overwritten and nothing else is written.
        var before = Directory.GetFiles(tiny.ArtifactDir).Select(File.ReadAllBytes).ToList();
        Assert.Contains("not empty", Assert.Throws<EngineException>(() => ModelExporter.Export(tiny.ModelDir, tiny.ArtifactDir)).Message);
        Assert.Equal(before, Directory.GetFiles(tiny.ArtifactDir).Select(File.ReadAllBytes).ToList());
        Assert.Empty(Directory.GetDirectories(tiny.Root, ".*"));
    }

    [Fact]
    public void LargeWeightsGoToExternalDataAndStillLoadAndVerify()
    {
        var target = Path.Combine(tiny.Root, "external-" + Guid.NewGuid().ToString("N"));
        var result = ModelExporter.Export(tiny.ModelDir, target, externalDataThreshold: 0);
        Assert.True(result.Passed);
        Assert.Contains(result.Files, f => f.Path == "model.onnx.data");
        Assert.True(new FileInfo(Path.Combine(target, "model.onnx")).Length < 64 * 1024, "the weights should live in model.onnx.data");
        using (var external = OnnxArtifact.Open(target))
        using (var inline = OnnxArtifact.Open(tiny.ArtifactDir))
            Assert.Equal(OnnxParity.OnnxGreedy(inline.Decoder, [1, 5, 9], 5), OnnxParity.OnnxGreedy(external.Decoder, [1, 5, 9], 5));

        var bytes = File.ReadAllBytes(Path.Combine(target, "model.onnx.data"));
        bytes[^3] ^= 0x10;
        File.WriteAllBytes(Path.Combine(target, "model.onnx.data"), bytes);
        Assert.Contains("model.onnx.data does not match", Assert.Throws<InvalidModelFileException>(() => OnnxArtifact.Open(target)).Message);
    }
}
