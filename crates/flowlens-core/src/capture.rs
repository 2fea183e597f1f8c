//! Streaming capture reader: legacy pcap and pcapng, fed in chunks of any size.
//! (implementation in progress)
