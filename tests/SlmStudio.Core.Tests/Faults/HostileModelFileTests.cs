using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using SlmStudio.Core.Models;
using SlmStudio.Core.Tests.Export;
using SlmStudio.Core.Tests.Training;
using SlmStudio.Core.Training;

namespace SlmStudio.Core.Tests.Faults;

/// <summary>Issue 14, engine inputs: files that used to crash the engine (or make it allocate gigabytes) are refused with a message.</summary>
public sealed class HostileModelFileTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir("slm-hostile");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A safetensors file with exactly this JSON header and <paramref name="dataBytes"/> zero bytes of data.</summary>
    private string Safetensors(string headerJson, int dataBytes, string name = "model.safetensors")
    {
        var header = Encoding.UTF8.GetBytes(headerJson);
        var bytes = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, header.Length);
        header.CopyTo(bytes, 8);
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void AShapeWhoseSizeOverflowsIsRefusedNotAnOverflowException()
    {
        var path = Safetensors("""{"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}}""", 8);
        var e = Assert.Throws<InvalidModelFileException>(() => SafetensorsFile.ReadHeader(path));
        Assert.Contains("larger than any file can hold", e.Message);
        Assert.Throws<InvalidModelFileException>(() => SafetensorsFile.Read(path));
    }

    [Fact]
    public void ANegativeSizeIsRefused()
    {
        // -2 x -1 x 4 bytes = 8: the product alone would pass.
        var path = Safetensors("""{"w":{"dtype":"F32","shape":[-2,-1],"data_offsets":[0,8]}}""", 8);
        Assert.Contains("negative size -2", Assert.Throws<InvalidModelFileException>(() => SafetensorsFile.ReadHeader(path)).Message);
        var reversed = Safetensors("""{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}""", 8, "reversed.safetensors");
        Assert.Throws<InvalidModelFileException>(() => SafetensorsFile.ReadHeader(reversed));
    }

    [Fact]
    public void OverlappingTensorRangesAreRefused()
    {
        var path = Safetensors("""{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}""", 16);
        var e = Assert.Throws<InvalidModelFileException>(() => SafetensorsFile.ReadHeader(path));
        Assert.Contains("'a' and 'b' claim the same bytes", e.Message);
        // Adjacent ranges and empty tensors are fine.
        var fine = Safetensors("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"e":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}}""", 16, "fine.safetensors");
        Assert.Equal(3, SafetensorsFile.ReadHeader(fine).Entries.Count);
    }

    [Fact]
    public void AHeaderWithTheWrongTypesIsRefused()
    {
        var path = Safetensors("""{"w":{"dtype":"F32","shape":"big","data_offsets":[0,8]}}""", 8);
        Assert.Contains("not valid", Assert.Throws<InvalidModelFileException>(() => SafetensorsFile.ReadHeader(path)).Message);
        var fraction = Safetensors("""{"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}""", 8, "fraction.safetensors");
        Assert.Contains("not a whole number", Assert.Throws<InvalidModelFileException>(() => SafetensorsFile.ReadHeader(fraction)).Message);
    }

    /// <summary>A copy of the tiny-llama fixture that the test may change.</summary>
    private string CopyFixture()
    {
        var copy = Directory.CreateDirectory(Path.Combine(_dir, "model-" + Guid.NewGuid().ToString("N")[..6])).FullName;
        foreach (var f in Directory.GetFiles(OnnxTestModels.FixtureDir)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        return copy;
    }

    [Fact]
    public void AConfigClaimingBillionsOfParametersWithTinyWeightsIsRefusedBeforeAllocating()
    {
        var folder = CopyFixture();
        var configPath = Path.Combine(folder, ModelFolder.ConfigFile);
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        (config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"], config["num_attention_heads"], config["num_key_value_heads"]) = (4096, 11008, 24, 32, 32);
        File.WriteAllText(configPath, config.ToJsonString());
        Safetensors("""{"model.embed_tokens.weight":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 8, Path.Combine(folder, ModelFolder.WeightsFile));

        // Allocating 4.9 billion float32 parameters would take about 20 GB: the refusal must come first.
        var e = Assert.Throws<InvalidModelFileException>(() => ModelFolder.Load(folder));
        Assert.Contains("describes a model with", e.Message);
        Assert.Contains("but its weights hold 2 values", e.Message);
        Assert.Throws<InvalidModelFileException>(() => ModelFolder.CheckBeforeLoading(folder, ModelFolder.TrainingBytesPerParameter));
    }

    [Fact]
    public void AModelLargerThanThisMachinesMemoryIsRefusedWithTheNumbers()
    {
        var config = LlamaConfig.Load(Path.Combine(OnnxTestModels.FixtureDir, ModelFolder.ConfigFile));
        var huge = config with { HiddenSize = 65536, IntermediateSize = 262144, NumLayers = 200, NumHeads = 64, NumKvHeads = 64 };
        var e = Assert.Throws<EngineException>(() => ModelFolder.CheckMemory(huge, ModelFolder.TrainingBytesPerParameter, "big"));
        Assert.Contains("GB of memory to train", e.Message);
        ModelFolder.CheckMemory(config, ModelFolder.TrainingBytesPerParameter, "tiny"); // the real fixture fits
    }

    [Fact]
    public void ATokenizerWithIdsBeyondTheModelsVocabularyIsRefusedBeforeTraining()
    {
        var folder = CopyFixture();
        var path = Path.Combine(folder, ModelFolder.TokenizerFile);
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        json["model"]!["vocab"]!.AsObject()["far-away"] = 28435;
        File.WriteAllText(path, json.ToJsonString());

        var e = Assert.Throws<InvalidModelFileException>(() => ModelFolder.CheckBeforeLoading(folder, ModelFolder.TrainingBytesPerParameter));
        Assert.Contains("token ids up to 28,435", e.Message);
        Assert.Contains("only has 323 tokens", e.Message);

        // The trainer refuses it before reading any data or allocating anything.
        var run = Path.Combine(_dir, "run");
        var data = TrainingFixture.WriteCorpus(_dir, lines: 50);
        var options = TrainingFixture.Options(data, run, 2) with { BaseModel = folder, Preset = "auto" };
        var trainError = Assert.Throws<InvalidModelFileException>(() => new Trainer(options, new TrainingFixture.Recorder()).Run(false, CancellationToken.None));
        Assert.Contains("does not belong to this model", trainError.Message);
    }

    [Fact]
    public void ATokenizerWithMillionsOfMergesOrGigabytesIsRefusedUnloaded()
    {
        var folder = CopyFixture();
        var path = Path.Combine(folder, ModelFolder.TokenizerFile);
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        var merges = new JsonArray();
        for (var i = 0; i <= ModelFolder.MaxTokenizerMerges; i++) merges.Add("a b");
        json["model"]!["merges"] = merges;
        File.WriteAllText(path, json.ToJsonString());
        Assert.Contains("1,000,001 merges", Assert.Throws<InvalidModelFileException>(() => ModelFolder.CheckTokenizer(path, 323)).Message);

        using (var sparse = new FileStream(path, FileMode.Create)) sparse.SetLength(ModelFolder.MaxTokenizerFileBytes + 1);
        Assert.Contains("more than the", Assert.Throws<InvalidModelFileException>(() => ModelFolder.CheckTokenizer(path, 323)).Message);
    }
}
