// The Java client (kafka-clients, from the broker's classpath that scripts/stack.sh resolves), as a
// producer or consumer that is not kafkajs: the tests use it to write batches with every codec the
// way Java services, Kafka Connect and Debezium write them, and to read back what the projector
// publishes. Run with the JDK's single-file launcher:
//   java -cp "$(bash scripts/stack.sh classpath)/*" scripts/kafka/JavaClient.java produce BROKERS TOPIC CODEC < lines
//   java -cp ... scripts/kafka/JavaClient.java consume BROKERS TOPIC COUNT TIMEOUT_MS > lines
//   java -cp ... scripts/kafka/JavaClient.java scram-user BROKERS USER < password
// (scram-user is how scripts/stack.sh adds its SASL user on every broker line: the Admin API is
// the same on 3.x and 4.x, where the ConfigCommand tool moved.)
// A line is `base64(key) TAB base64(value)` (an empty field is null); consume prefixes
// `partition TAB offset TAB`.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class JavaClient {
  public static void main(String[] args) throws Exception {
    if (args.length >= 4 && args[0].equals("produce")) produce(args[1], args[2], args[3]);
    else if (args.length >= 5 && args[0].equals("consume"))
      consume(args[1], args[2], Integer.parseInt(args[3]), Long.parseLong(args[4]));
    else if (args.length >= 3 && args[0].equals("scram-user")) scramUser(args[1], args[2]);
    else {
      System.err.println(
          "usage: produce BROKERS TOPIC CODEC | consume BROKERS TOPIC COUNT TIMEOUT_MS | scram-user BROKERS USER");
      System.exit(2);
    }
  }

  static void scramUser(String brokers, String user) throws Exception {
    String password = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
    Properties p = new Properties();
    p.put("bootstrap.servers", brokers);
    try (Admin admin = Admin.create(p)) {
      // One mechanism per request: the broker refuses two changes to one user in a request.
      for (ScramMechanism m : new ScramMechanism[] {ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512}) {
        List<UserScramCredentialAlteration> change =
            List.of(new UserScramCredentialUpsertion(user, new ScramCredentialInfo(m, 8192), password));
        admin.alterUserScramCredentials(change).all().get();
      }
    }
  }

  static byte[] field(String s) {
    return s.isEmpty() ? null : Base64.getDecoder().decode(s);
  }

  static String field(byte[] b) {
    return b == null ? "" : Base64.getEncoder().encodeToString(b);
  }

  static void produce(String brokers, String topic, String codec) throws Exception {
    Properties p = new Properties();
    p.put("bootstrap.servers", brokers);
    p.put("compression.type", codec);
    p.put("acks", "all");
    p.put("enable.idempotence", "true");
    // Batches of many records, as a busy producer writes them.
    p.put("linger.ms", "50");
    p.put("batch.size", "262144");
    p.put("max.request.size", "2097152");
    p.put("key.serializer", ByteArraySerializer.class.getName());
    p.put("value.serializer", ByteArraySerializer.class.getName());
    int sent = 0;
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
      List<java.util.concurrent.Future<?>> acks = new ArrayList<>();
      for (String line; (line = in.readLine()) != null; ) {
        if (line.isEmpty()) continue;
        String[] kv = line.split("\t", -1);
        acks.add(producer.send(new ProducerRecord<>(topic, field(kv[0]), field(kv[1]))));
        sent++;
      }
      for (java.util.concurrent.Future<?> ack : acks) ack.get();
    }
    System.out.println("produced " + sent);
  }

  static void consume(String brokers, String topic, int count, long timeoutMs) {
    Properties p = new Properties();
    p.put("bootstrap.servers", brokers);
    p.put("enable.auto.commit", "false");
    p.put("key.deserializer", ByteArrayDeserializer.class.getName());
    p.put("value.deserializer", ByteArrayDeserializer.class.getName());
    p.put("check.crcs", "true");
    int seen = 0;
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
      List<TopicPartition> partitions = new ArrayList<>();
      for (PartitionInfo info : consumer.partitionsFor(topic)) partitions.add(new TopicPartition(topic, info.partition()));
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      long deadline = System.currentTimeMillis() + timeoutMs;
      while (seen < count && System.currentTimeMillis() < deadline) {
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
          System.out.println(r.partition() + "\t" + r.offset() + "\t" + field(r.key()) + "\t" + field(r.value()));
          seen++;
        }
      }
    }
    if (seen < count) {
      System.err.println("read " + seen + " of " + count + " records from " + topic);
      System.exit(1);
    }
  }
}
